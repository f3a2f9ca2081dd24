#include "tests/support/property_env.h"

#include <cstdlib>

namespace trolley::test_support {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

uint64_t PropertyBaseSeed() { return EnvOr("TROLLEY_PROPERTY_SEED", 20261121); }

uint64_t PropertyCases() { return EnvOr("TROLLEY_PROPERTY_CASES", 10000); }

}  // namespace trolley::test_support
