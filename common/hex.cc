#include "common/hex.h"

#include <array>
#include <cstdint>

namespace trolley {
namespace {

// -1 for a character that is not a hex digit.
constexpr std::array<int8_t, 256> NibbleTable() {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? static_cast<int8_t>(c - '0')
           : c >= 'a' && c <= 'f' ? static_cast<int8_t>(c - 'a' + 10)
           : c >= 'A' && c <= 'F' ? static_cast<int8_t>(c - 'A' + 10)
                                  : int8_t{-1};
  }
  return t;
}
constexpr std::array<int8_t, 256> kNibble = NibbleTable();

}  // namespace

// Sized once and written by index: a view token is hexed on every cart
// reply, and appending a character at a time cost several times as much.
std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  char* o = out.data();
  for (unsigned char c : bytes) {
    *o++ = kDigits[c >> 4];
    *o++ = kDigits[c & 15];
  }
  return out;
}

Result<std::string> Unhex(std::string_view text) {
  if (text.size() % 2 != 0) return Status::InvalidArgument("odd number of hex digits");
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = kNibble[static_cast<unsigned char>(text[2 * i])];
    const int lo = kNibble[static_cast<unsigned char>(text[2 * i + 1])];
    if (hi < 0 || lo < 0) return Status::InvalidArgument("not a hex digit");
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace trolley
