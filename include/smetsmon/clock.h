// The clock seam: the few places that schedule (idle window advance, progress output, later
// webhook backoff and HTTP timeouts) read time through this interface; window and rule code never
// does, it takes time as an argument.
//
// Thread-safety: SystemClock is stateless; ManualClock is safe to read from any thread and is
// advanced by the test that owns it.
#pragma once

#include <atomic>
#include <chrono>

#include "smetsmon/types.h"

namespace smetsmon {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (the processing-time domain).
  virtual ProcessingTime Now() const = 0;
  // Monotonic time in nanoseconds, for measuring durations.
  virtual int64_t MonotonicNs() const = 0;
};

class SystemClock final : public Clock {
 public:
  ProcessingTime Now() const override {
    return {std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count()};
  }
  int64_t MonotonicNs() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// Advance moves both clocks; StepWall moves the wall clock alone (an NTP step or an operator
// setting the date), as a test of code that must measure intervals on the monotonic clock.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(ProcessingTime start) : now_ms_(start.ms) {}
  ProcessingTime Now() const override {
    return {now_ms_.load(std::memory_order_relaxed) +
            wall_offset_ms_.load(std::memory_order_relaxed)};
  }
  int64_t MonotonicNs() const override {
    return now_ms_.load(std::memory_order_relaxed) * 1'000'000;
  }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_relaxed); }
  // Sets the wall clock to `t`, the monotonic one along with it (no step between the two).
  void Set(ProcessingTime t) {
    now_ms_.store(t.ms - wall_offset_ms_.load(std::memory_order_relaxed),
                  std::memory_order_relaxed);
  }
  // Steps the wall clock by `ms` (negative: back); the monotonic clock does not move.
  void StepWall(int64_t ms) { wall_offset_ms_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> wall_offset_ms_{0};
};

}  // namespace smetsmon
