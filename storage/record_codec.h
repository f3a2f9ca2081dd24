// Record codec: the bytes of a SiblingSet on disk and on the wire, and of a
// causal context handed to clients as an opaque token.
//
// Pure functions, no state; safe to call from any thread (each call builds
// its own Cap'n Proto message; nothing is shared).
//
// Byte layout (both kinds; all integers little-endian):
//
//   offset  size  field
//   0       2     magic: "TS" (0x54 0x53) for a SiblingSet record,
//                        "TC" (0x54 0x43) for a causal-context token
//   2       2     format version, u16; this build writes kRecordFormatVersion
//   4       8k    a Cap'n Proto message as written by capnp::messageToFlatArray
//                 (segment table, then segments; unpacked), root
//                 trolley::record::SiblingSetRecord or ContextRecord
//                 (storage/record.capnp). It ends exactly at the end of the
//                 input: trailing bytes are corruption.
//
// The header comes first so a reader can refuse a record from a newer
// release (FailedPrecondition, "upgrade trolley") before it parses anything,
// and so a context token can never be mistaken for a stored record. How to
// evolve the schema, and when a change needs a version bump rather than a
// new field, is written at the top of record.capnp.
// Rejected: an 8-byte header that would keep the Cap'n Proto words aligned
// relative to the start. LMDB values are unaligned anyway, so decode always
// copies; the 4 bytes are not worth it. No checksum: corruption inside a
// value or a counter is not detected here (see "Caveats" below).
//
// Contract:
//  1. Decode(Encode(x)) == x for every x that satisfies SiblingSet's
//     invariants. Encoding is deterministic: equal inputs give equal bytes
//     (a single segment for any set; a multi-segment message from another
//     writer is still read).
//  2. Decode input is untrusted (disk, network, a client's token). Decode
//     never crashes, never asserts on the input, never reads outside it and
//     needs no alignment. Reads are bounded by Cap'n Proto's traversal limit
//     (a small multiple of the input size) and nesting limit, so a small
//     input cannot make decode allocate or read much more than its size.
//  3. Errors: a newer format version -> kFailedPrecondition; anything else
//     wrong (short input, bad magic, version 0, malformed Cap'n Proto,
//     trailing bytes, a context not sorted by actor or with a zero counter,
//     siblings out of dot order or not covered by the context, a tombstone
//     with a value) -> kCorruption, with a message saying what was wrong.
//     A decoded SiblingSet passes CheckInvariants().
//  4. Encode asserts (TROLLEY_ASSERT) the invariants of its input: encoding a
//     broken state is a bug in this process, not bad input.
//
// Caveats: Cap'n Proto has no checksum; a flipped bit inside a value, a
// timestamp or a counter that keeps the invariants decodes "successfully".
// The caller bounds the input size (object-size caps, frame limits) before
// calling Decode: it copies the input once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/sibling_set.h"
#include "storage/version_vector.h"

namespace trolley {

// The format version this build writes, and the newest it reads. Versions
// 1..kRecordFormatVersion are all readable.
constexpr uint16_t kRecordFormatVersion = 1;

// The header described above.
constexpr size_t kRecordHeaderBytes = 4;
constexpr char kSiblingSetMagic[2] = {'T', 'S'};
constexpr char kContextMagic[2] = {'T', 'C'};

// A SiblingSet record. Size: 36 bytes when empty; + 8 for each non-empty
// list, 16 per context entry, 56 per sibling plus its value rounded up to
// 8 bytes (one 1.5 KB sibling: 1628 bytes).
std::string EncodeSiblingSet(const SiblingSet& set);
Result<SiblingSet> DecodeSiblingSet(std::string_view bytes);

// A causal context alone (28 bytes when empty; + 8, then 16 per entry):
// the opaque token a client receives with a read
// and passes back with its next write. An absent token (a blind write) is
// the caller's business: it does not call DecodeContext with "".
std::string EncodeContext(const VersionVector& context);
Result<VersionVector> DecodeContext(std::string_view bytes);

}  // namespace trolley
