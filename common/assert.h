// Assertions for invariants. Always on, in every build type: an invariant
// that does not hold means the process state is wrong, and continuing could
// turn a bug into lost or corrupted carts (TigerBeetle, FoundationDB).
//
// TROLLEY_ASSERT(cond)            aborts with file:line and the condition.
// TROLLEY_ASSERT_MSG(cond, msg)   adds a message (a std::string_view).
// Expected failures (bad input, full disk) are Status values, never asserts.
#pragma once

#include <string_view>

namespace trolley::detail {
[[noreturn]] void AssertFail(const char* condition, const char* file, int line,
                             std::string_view message);
}  // namespace trolley::detail

#define TROLLEY_ASSERT(cond)                                        \
  do {                                                              \
    if (!(cond)) [[unlikely]]                                       \
      ::trolley::detail::AssertFail(#cond, __FILE__, __LINE__, {}); \
  } while (0)

#define TROLLEY_ASSERT_MSG(cond, msg)                                  \
  do {                                                                 \
    if (!(cond)) [[unlikely]]                                          \
      ::trolley::detail::AssertFail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
