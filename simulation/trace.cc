#include "simulation/trace.h"

#include <xxhash.h>

#include <cstdio>

#include "common/assert.h"

namespace trolley::sim {

Trace::Trace(Sink sink) : sink_(std::move(sink)), state_(XXH3_createState()) {
  TROLLEY_ASSERT(state_ != nullptr);
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

Trace::~Trace() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void Trace::Flush() {
  if (used_ == 0) return;
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), buffer_, used_ * sizeof(uint64_t));
  used_ = 0;
}

void Trace::MixString(std::string_view s) {
  Flush();
  const uint64_t size = s.size();
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), &size, sizeof(size));
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), s.data(), s.size());
}

void Trace::Line(uint64_t now_ns, std::string_view text) {
  if (!sink_) return;
  char prefix[40];
  std::snprintf(prefix, sizeof(prefix), "%10llu.%03llu ",
                static_cast<unsigned long long>(now_ns / 1'000'000),
                static_cast<unsigned long long>(now_ns / 1'000 % 1'000));
  std::string line(prefix);
  line += text;
  sink_(line);
}

uint64_t Trace::Digest() {
  Flush();
  return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_));
}

}  // namespace trolley::sim
