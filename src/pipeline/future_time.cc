#include "pipeline/future_time.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "base/log.h"

namespace smetsmon::pipeline {

void FutureTimeCheck::Seed(int64_t stream_ms, int64_t mono_ms) {
  if (stream_ms == kNone) return;
  anchor_ms_ = stream_ms - max_future_ms_;
  anchor_mono_ms_ = mono_ms;
}

int64_t FutureTimeCheck::StreamMs(int64_t mono_ms) const {
  if (anchor_ms_ == kNone) return kNone;
  // The monotonic clock never goes back; should a test's clock do so, the time stays put.
  return anchor_ms_ + std::max<int64_t>(0, mono_ms - anchor_mono_ms_);
}

void FutureTimeCheck::BeginBatch(int64_t wall_ms, int64_t mono_ms) {
  wall_ms_ = wall_ms;
  mono_ms_ = mono_ms;
  stream_ms_ = StreamMs(mono_ms);
  reference_ms_ = stream_ms_ == kNone ? wall_ms : std::max(wall_ms, stream_ms_);
  limit_ms_ = reference_ms_ + max_future_ms_;
  wall_limit_ms_ = wall_ms + max_future_ms_;
  batch_agreed_ms_ = kNone;
  batch_disagreements_ = 0;
}

void FutureTimeCheck::EndBatch() {
  // The stream agreed with the wall clock up to here: it carries on from there, never from
  // further than the wall clock's reading.
  if (batch_agreed_ms_ != kNone) {
    const int64_t agreed = std::min(batch_agreed_ms_, wall_ms_);
    if (stream_ms_ == kNone || agreed > stream_ms_) {
      anchor_ms_ = agreed;
      anchor_mono_ms_ = mono_ms_;
    }
  }
  if (batch_disagreements_ == 0) return;
  const uint64_t total = disagreements_.fetch_add(batch_disagreements_, std::memory_order_relaxed) +
                         batch_disagreements_;
  if (last_log_mono_ms_ != kNone && mono_ms_ - last_log_mono_ms_ < kLogIntervalMs) return;
  last_log_mono_ms_ = mono_ms_;
  Log(LogLevel::kWarn,
      "wall clock behind the stream: events more than max_future ahead of it accepted on the "
      "stream's own time",
      {{"wall", FormatRfc3339Utc(wall_ms_)},
       {"stream", FormatRfc3339Utc(stream_ms_)},
       {"wall_behind_s", absl::StrCat((stream_ms_ - wall_ms_) / 1000)},
       {"events", absl::StrCat(total - logged_disagreements_)},
       {"total", absl::StrCat(total)}});
  logged_disagreements_ = total;
}

}  // namespace smetsmon::pipeline
