// Trace: what one simulated run did, as a hash and, on request, as text.
//
// Every event the simulator runs (a message delivered, dropped or
// duplicated, a commit, a client request and its answer, a fault) is mixed
// into an XXH3-64 digest; the same seed must give the same digest
// (trace_hash in the summary), which is how a replay shows it is exact.
// With a sink, the events are also written as lines, prefixed with the
// virtual time in milliseconds (`--trace`). Building those lines costs far
// more than hashing, so callers test lines() first.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace trolley::sim {

class Trace {
 public:
  using Sink = std::function<void(std::string_view line)>;

  explicit Trace(Sink sink = nullptr);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Mixes one event's fields into the digest.
  void Event(uint64_t kind, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
    if (used_ + 5 > kBufferWords) Flush();
    buffer_[used_++] = kind;
    buffer_[used_++] = a;
    buffer_[used_++] = b;
    buffer_[used_++] = c;
    buffer_[used_++] = d;
  }
  void MixString(std::string_view s);

  bool lines() const { return static_cast<bool>(sink_); }
  // "  1234.567 text" (virtual ms with microseconds).
  void Line(uint64_t now_ns, std::string_view text);

  uint64_t Digest();

 private:
  static constexpr size_t kBufferWords = 320;
  void Flush();

  Sink sink_;
  void* state_;  // XXH3_state_t
  uint64_t buffer_[kBufferWords];
  size_t used_ = 0;
};

// Stable names for the event kinds mixed into the digest.
enum TraceKind : uint64_t {
  kTraceDeliver = 1,
  kTraceDrop,
  kTraceDuplicate,
  kTraceUnreachable,
  kTraceCommit,
  kTraceClientSend,
  kTraceClientReply,
  kTraceClientOp,
  kTraceFault,
  kTraceFinal,
};

}  // namespace trolley::sim
