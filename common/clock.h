// Clock: the only way core code learns the time.
//
// The real implementation reads std::chrono clocks; the simulator's is
// advanced by hand, so one seed replays one exact run. Core code (ring/,
// storage/ value logic, node/ core) never calls std::chrono::*::now().
#pragma once

#include <cstdint>

namespace trolley {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for timeouts; never goes backwards.
  virtual uint64_t NowMonotonicNs() = 0;
  // Wall-clock milliseconds since the Unix epoch: object timestamps, TTL
  // expiry, tombstone and hint age. May jump (NTP, skew between nodes).
  virtual uint64_t NowWallMs() = 0;
};

// The machine's clocks.
class SystemClock final : public Clock {
 public:
  uint64_t NowMonotonicNs() override;
  uint64_t NowWallMs() override;
};

// A clock set by hand (tests, simulator).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint64_t wall_ms = 1'700'000'000'000) : wall_ms_(wall_ms) {}
  uint64_t NowMonotonicNs() override { return monotonic_ns_; }
  uint64_t NowWallMs() override { return wall_ms_; }
  void AdvanceMs(uint64_t ms) {
    monotonic_ns_ += ms * 1'000'000;
    wall_ms_ += ms;
  }
  void SetWallMs(uint64_t ms) { wall_ms_ = ms; }

 private:
  uint64_t monotonic_ns_ = 0;
  uint64_t wall_ms_;
};

}  // namespace trolley
