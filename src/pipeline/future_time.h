// The future-time check's reference, kept by the router. An event is rejected as future_time
// only when it is more than max_future (an hour) ahead of BOTH the wall clock and the stream's own
// time, so a wall clock stepped back (NTP, an operator, a VM restored) does not reject live
// traffic, while an event from the future is still rejected.
//
// The stream's own time is carried on the monotonic clock: the latest point at which the stream
// was seen agreeing with the wall clock (an event no more than max_future ahead of it, taken at
// most at the wall clock's reading: min(event time, wall)), plus the monotonic time elapsed since.
// It moves only with events that agree with the wall clock, never with one accepted against it
// alone, so a run of messages each just under the limit cannot ratchet it forward: it is never
// ahead of what the wall clock once said, carried forward in real time. A wall clock stepped
// forward changes nothing here (the larger of the two is the reference; the idle advance is the
// wall clock's business, pipeline.h). A checkpoint's stream time seeds it, less max_future (that
// much of it may have been ahead of the wall clock), so a daemon restarted with its wall clock
// already behind still has a reference, one that lags real time by the downtime.
// Limits: the tolerance needs the stream to have agreed with the wall clock (or a checkpoint)
// before the step; a daemon that starts afresh with a wall clock behind rejects what is ahead of
// it, as before.
//
// An event accepted only thanks to the stream's time is a disagreement between the clocks:
// counted (smetsmon_clock_disagreements_total) and logged at most once a minute (monotonic).
//
// Thread-safety: Seed, BeginBatch, Accept and EndBatch from the router (the source thread);
// disagreements() from any thread.
// Time domain: wall (processing) time and monotonic time, both as milliseconds, passed in; event
// times. Nothing here reads a clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

namespace smetsmon::pipeline {

class FutureTimeCheck {
 public:
  explicit FutureTimeCheck(int64_t max_future_ms) : max_future_ms_(max_future_ms) {}

  // Starts the stream's time at a restored stream time (less max_future), as of `mono_ms`.
  void Seed(int64_t stream_ms, int64_t mono_ms);

  // A batch received at wall `wall_ms`, monotonic `mono_ms`: sets the limits for its events.
  void BeginBatch(int64_t wall_ms, int64_t mono_ms);
  // The time the decoders check against (max of the wall clock and the stream's time): an event
  // more than max_future after it is future_time.
  int64_t reference_ms() const { return reference_ms_; }
  int64_t limit_ms() const { return limit_ms_; }
  // An event of the batch; false: from the future (reject it). One within the limit that is too
  // far ahead of the wall clock alone is counted as a disagreement.
  bool Accept(int64_t event_ms) {
    if (event_ms > limit_ms_) return false;
    if (event_ms > wall_limit_ms_) {
      ++batch_disagreements_;
    } else if (event_ms > batch_agreed_ms_) {
      batch_agreed_ms_ = event_ms;
    }
    return true;
  }
  // After the batch's events: moves the stream's time, counts and logs disagreements.
  void EndBatch();

  uint64_t disagreements() const { return disagreements_.load(std::memory_order_relaxed); }
  // The stream's time at `mono_ms` (Min when it has none yet).
  int64_t StreamMs(int64_t mono_ms) const;

  static constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kLogIntervalMs = 60'000;

 private:
  const int64_t max_future_ms_;
  int64_t anchor_ms_ = kNone;  // the stream's time at anchor_mono_ms_
  int64_t anchor_mono_ms_ = 0;
  // The current batch.
  int64_t wall_ms_ = 0, mono_ms_ = 0, stream_ms_ = kNone;
  int64_t reference_ms_ = 0, limit_ms_ = 0, wall_limit_ms_ = 0;
  int64_t batch_agreed_ms_ = kNone;
  uint64_t batch_disagreements_ = 0;
  // Logging.
  int64_t last_log_mono_ms_ = kNone;
  uint64_t logged_disagreements_ = 0;
  std::atomic<uint64_t> disagreements_{0};
};

}  // namespace smetsmon::pipeline
