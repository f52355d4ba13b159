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

class ManualClock final : public Clock {
 public:
  explicit ManualClock(ProcessingTime start) : now_ms_(start.ms) {}
  ProcessingTime Now() const override { return {now_ms_.load(std::memory_order_relaxed)}; }
  int64_t MonotonicNs() const override {
    return now_ms_.load(std::memory_order_relaxed) * 1'000'000;
  }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_relaxed); }
  void Set(ProcessingTime t) { now_ms_.store(t.ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace smetsmon
