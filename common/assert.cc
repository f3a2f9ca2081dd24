#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace trolley::detail {

void AssertFail(const char* condition, const char* file, int line, std::string_view message) {
  std::fprintf(stderr, "trolley: assertion failed: %s at %s:%d%s%.*s\n", condition, file, line,
               message.empty() ? "" : ": ", static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace trolley::detail
