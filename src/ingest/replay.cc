#include "ingest/replay.h"

#include <array>

#include "ingest/jsonl_reader.h"
#include "smetsmon/status.h"

namespace smetsmon::ingest {
namespace {
constexpr size_t kBatch = 256;
}

absl::StatusOr<uint64_t> ReplayFiles(const std::vector<std::string>& files,
                                     aggregate::Engine& engine, decode::Decoder& decoder,
                                     const Clock& clock, const ReplayOptions& options) {
  uint64_t total = 0;
  // Events are routed per owning worker; replay drives every worker from this one thread.
  std::vector<std::vector<AlertEvent>> per_worker(engine.worker_count());
  for (auto& v : per_worker) v.reserve(kBatch);
  auto flush = [&] {
    for (size_t w = 0; w < per_worker.size(); ++w) {
      engine.worker(w).ApplyBatch(per_worker[w]);
      per_worker[w].clear();
    }
    if (options.after_batch) options.after_batch();
  };
  for (const std::string& path : files) {
    SMETSMON_ASSIGN_OR_RETURN(auto reader, JsonlReader::Open(path, decode::Decoder::padding()));
    ReplayProgress progress{path, 0, 0, reader->file_bytes()};
    ProcessingTime now = clock.Now();
    std::string_view line;
    size_t capacity = 0;
    size_t pending = 0;
    while (reader->Next(&line, &capacity)) {
      ++total;
      ++progress.lines;
      AlertEvent event;
      const RejectReason r = decoder.DecodePadded(line, capacity, now, &event);
      if (r != RejectReason::kNone) {
        // Rejections are counted by the worker that would own the line's device if it had one;
        // worker 0 is as good as any for a line we could not read.
        engine.worker(0).CountRejected(r);
        if (options.rejects != nullptr) {
          options.rejects->Reject(path, reader->line_number(), r, line);
        }
        continue;
      }
      per_worker[engine.WorkerIndexFor(event.device)].push_back(event);
      if (++pending == kBatch) {
        flush();
        pending = 0;
        if ((progress.lines & 0xFFFF) < kBatch) {
          now = clock.Now();
          progress.consumed_bytes = reader->consumed_bytes();
          if (options.on_progress) options.on_progress(progress);
        }
      }
    }
    flush();
    if (!reader->status().ok()) return reader->status();
    progress.consumed_bytes = reader->file_bytes();
    if (options.on_progress) options.on_progress(progress);
  }
  return total;
}

}  // namespace smetsmon::ingest
