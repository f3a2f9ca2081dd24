// Hand-built Cap'n Proto words (encoding spec: capnproto.org/encoding.html),
// for tests that feed a decoder inputs our encoders never write: pointers
// that overlap, lists that claim more than the message holds, fields from a
// newer schema, deep nesting.
//
// These are plain values: nothing here checks a layout, so a wrong offset is
// a bug in the test. Each caller should decode an unamplified control case
// first, so a mistake in its bytes cannot pass for decoder behaviour.
//
// Everything is little-endian, as Cap'n Proto is on every host. A codec's
// own prefix (magic bytes, format version) is the caller's business: put it
// in front of FlatArray()'s bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace trolley::test_support {

// A struct pointer to `data_words` data words and `pointer_count` pointers,
// `offset_words` words past the end of the pointer itself (may be negative).
uint64_t StructPointer(int32_t offset_words, uint16_t data_words, uint16_t pointer_count);

// A list pointer. element_size: 2 = byte, 6 = pointer, 7 = inline composite
// (`count` is then the number of words after the tag, not of elements).
uint64_t ListPointer(int32_t offset_words, uint64_t element_size, uint64_t count);

// `text` packed into words, zero padded: the bytes of a Data or Text list
// (a Text of n characters is a byte list of n + 1: the padding holds its NUL
// unless n is a multiple of 8).
std::vector<uint64_t> TextWords(std::string_view text);

// A single-segment message in Cap'n Proto's flat array format (as
// capnp::messageToFlatArray writes it): the segment table (segment count
// minus one = 0, then the segment's size in words), then `segment`.
std::string FlatArray(const std::vector<uint64_t>& segment);

// The little-endian 32-bit number at bytes[offset, offset + 4), e.g. a
// segment table entry; asserts that it is in range.
uint32_t ReadLittleEndian32(std::string_view bytes, size_t offset);

}  // namespace trolley::test_support
