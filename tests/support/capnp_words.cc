#include "tests/support/capnp_words.h"

#include "common/assert.h"

namespace trolley::test_support {

uint64_t StructPointer(int32_t offset_words, uint16_t data_words, uint16_t pointer_count) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(offset_words) << 2)) |
         (static_cast<uint64_t>(data_words) << 32) | (static_cast<uint64_t>(pointer_count) << 48);
}

uint64_t ListPointer(int32_t offset_words, uint64_t element_size, uint64_t count) {
  return 1 | (static_cast<uint64_t>(static_cast<uint32_t>(offset_words) << 2)) |
         (element_size << 32) | (count << 35);
}

std::vector<uint64_t> TextWords(std::string_view text) {
  std::vector<uint64_t> out((text.size() + 7) / 8, 0);
  for (size_t i = 0; i < text.size(); ++i) {
    out[i / 8] |= static_cast<uint64_t>(static_cast<unsigned char>(text[i])) << (8 * (i % 8));
  }
  return out;
}

std::string FlatArray(const std::vector<uint64_t>& segment) {
  std::string out;
  out.reserve(8 * (segment.size() + 1));
  auto put64 = [&](uint64_t w) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((w >> (8 * i)) & 0xff));
  };
  put64(static_cast<uint64_t>(segment.size()) << 32);  // segment count - 1 = 0, then its size
  for (uint64_t w : segment) put64(w);
  return out;
}

uint32_t ReadLittleEndian32(std::string_view bytes, size_t offset) {
  TROLLEY_ASSERT(offset <= bytes.size() && bytes.size() - offset >= 4);
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  return v;
}

}  // namespace trolley::test_support
