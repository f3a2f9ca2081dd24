// EnumName tables: the names an enum's values have where people read or
// type them (flags, config files, reports, logs), written once and read
// both ways: NameOf prints a value, ParseName reads one back. Without a
// table the same names were spelled twice, in a switch that prints and in
// the if-chain that parses, and the error message listed them a third time.
//
//   constexpr EnumName<Durability> kDurabilityNames[] = {
//       {Durability::kSync, "sync"}, {Durability::kFlush, "flush"}, {Durability::kNone, "none"}};
//   std::string_view DurabilityName(Durability d) { return NameOf(kDurabilityNames, d); }
//   Result<Durability> ParseDurability(std::string_view text) {
//     return ParseName(kDurabilityNames, text, "durability");
//   }
//
// Trade-off: a switch over the enum lets -Wswitch flag a new enumerator
// that has no name yet; a table cannot. Keep each table next to its enum's
// *Name() function; a value missing from the table prints as "unknown".
//
// Pure functions over constant tables; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace trolley {

template <typename Enum>
struct EnumName {
  Enum value;
  std::string_view name;
};

// The name of `value` in `names`; "unknown" if the table has no entry for it.
template <typename Enum, size_t N>
constexpr std::string_view NameOf(const EnumName<Enum> (&names)[N], Enum value) {
  for (const EnumName<Enum>& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

// Every name in table order, for messages: "sync, flush or none".
template <typename Enum, size_t N>
std::string ListNames(const EnumName<Enum> (&names)[N]) {
  static_assert(N > 0, "an EnumName table names at least one value");
  std::string out(names[0].name);
  for (size_t i = 1; i < N; ++i) {
    out += i + 1 == N ? " or " : ", ";
    out += names[i].name;
  }
  return out;
}

// The value named exactly `text`, or InvalidArgument "unknown <what>
// '<text>': use <every name>".
template <typename Enum, size_t N>
Result<Enum> ParseName(const EnumName<Enum> (&names)[N], std::string_view text,
                       std::string_view what) {
  for (const EnumName<Enum>& entry : names) {
    if (entry.name == text) return entry.value;
  }
  return Status::InvalidArgument("unknown " + std::string(what) + " '" + std::string(text) +
                                 "': use " + ListNames(names));
}

}  // namespace trolley
