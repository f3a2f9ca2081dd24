// EventLoop: virtual time for one simulated run.
//
// Events run in (time, scheduling order): two events at the same virtual
// time run in the order they were scheduled, so one seed gives one order,
// on every machine. Time is in nanoseconds from the start of the run; it
// only moves when the loop runs an event later than the current time.
// Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "common/assert.h"

namespace trolley::sim {

inline constexpr uint64_t kNsPerMs = 1'000'000;
inline constexpr uint64_t kNsPerUs = 1'000;

class EventLoop {
 public:
  uint64_t now_ns() const { return now_ns_; }
  uint64_t now_ms() const { return now_ns_ / kNsPerMs; }

  // Runs `fn` at `at_ns` (not before now).
  void At(uint64_t at_ns, std::function<void()> fn) {
    if (at_ns < now_ns_) at_ns = now_ns_;
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      fns_[slot] = std::move(fn);
    } else {
      slot = static_cast<uint32_t>(fns_.size());
      fns_.push_back(std::move(fn));
    }
    heap_.push(Entry{at_ns, next_seq_++, slot});
  }
  void After(uint64_t delay_ns, std::function<void()> fn) { At(now_ns_ + delay_ns, std::move(fn)); }

  // Runs every event due at or before `until_ns`, then sets the time to it.
  void RunUntil(uint64_t until_ns) {
    while (!heap_.empty() && heap_.top().at_ns <= until_ns) RunOne();
    if (until_ns > now_ns_) now_ns_ = until_ns;
  }
  // Runs the next event; false if there is none.
  bool RunNext() {
    if (heap_.empty()) return false;
    RunOne();
    return true;
  }
  size_t pending() const { return heap_.size(); }
  // Runs after every event (the cluster's invariant checks); may be empty.
  void set_after_event(std::function<void()> fn) { after_event_ = std::move(fn); }
  uint64_t events_run() const { return events_run_; }

 private:
  struct Entry {
    uint64_t at_ns;
    uint64_t seq;
    uint32_t slot;
    bool operator>(const Entry& o) const {
      return at_ns != o.at_ns ? at_ns > o.at_ns : seq > o.seq;
    }
  };

  void RunOne() {
    const Entry e = heap_.top();
    heap_.pop();
    TROLLEY_ASSERT(e.at_ns >= now_ns_);
    now_ns_ = e.at_ns;
    std::function<void()> fn = std::move(fns_[e.slot]);
    fns_[e.slot] = nullptr;
    free_.push_back(e.slot);
    ++events_run_;
    fn();
    if (after_event_) after_event_();
  }

  uint64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t events_run_ = 0;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  std::vector<std::function<void()>> fns_;
  std::vector<uint32_t> free_;
  std::function<void()> after_event_;
};

}  // namespace trolley::sim
