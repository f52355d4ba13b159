#include "ingest/replay.h"

#include <memory>

#include "ingest/jsonl_reader.h"
#include "smetsmon/status.h"

namespace smetsmon::ingest {
namespace {

// Lines copied out of the reader's buffer (which the next read reuses), with where they came
// from for the rejects file.
struct LineBatch : pipeline::SourceBatch {
  std::string text;
  std::vector<uint32_t> offsets;  // start of each line in `text`; one more at the end
  std::vector<uint64_t> line_numbers;
  std::shared_ptr<const std::string> path;
  // Ready for reuse: its buffers keep their capacity (no page faults for a fresh one per batch).
  void Reset() {
    messages.clear();
    text.clear();
    offsets.assign(1, 0);
    line_numbers.clear();
  }
  void Seal() {
    messages.reserve(line_numbers.size());
    for (size_t i = 0; i + 1 < offsets.size(); ++i) {
      messages.emplace_back(text.data() + offsets[i], offsets[i + 1] - offsets[i]);
    }
  }
};

}  // namespace

absl::StatusOr<uint64_t> ReplayFiles(const std::vector<std::string>& files,
                                     pipeline::Pipeline& pipeline, const Clock& clock,
                                     const ReplayOptions& options) {
  uint64_t total = 0;
  std::vector<std::unique_ptr<LineBatch>> spare;  // batches handed back, for reuse
  const auto write_rejects = [&](std::unique_ptr<pipeline::SourceBatch> done) {
    auto b = std::unique_ptr<LineBatch>(static_cast<LineBatch*>(done.release()));
    if (options.rejects != nullptr) {
      for (const auto& [index, reason] : b->rejected) {
        options.rejects->Reject(*b->path, b->line_numbers[index], reason, b->messages[index]);
      }
    }
    spare.push_back(std::move(b));
  };
  const size_t batch_lines = std::max<size_t>(options.batch_lines, 1);
  std::unique_ptr<LineBatch> batch;
  const auto submit = [&] {
    if (batch == nullptr || batch->line_numbers.empty()) return;
    batch->Seal();
    while (!pipeline.CanSubmit()) {
      pipeline.WaitForFront(1000);
      pipeline.Reap(/*wait=*/false, write_rejects);
    }
    pipeline.Submit(std::move(batch));
    pipeline.Reap(/*wait=*/false, write_rejects);
  };
  absl::Status status;
  for (const std::string& path : files) {
    auto reader = JsonlReader::Open(path, 0);
    if (!reader.ok()) {
      status = reader.status();
      break;
    }
    auto shared_path = std::make_shared<const std::string>(path);
    ReplayProgress progress{path, 0, 0, (*reader)->file_bytes()};
    ProcessingTime now = clock.Now();
    std::string_view line;
    size_t capacity = 0;
    while ((*reader)->Next(&line, &capacity)) {
      ++total;
      ++progress.lines;
      if (batch == nullptr) {
        if (spare.empty()) {
          batch = std::make_unique<LineBatch>();
          batch->text.reserve(batch_lines * 256);
          batch->offsets.reserve(batch_lines + 1);
        } else {
          batch = std::move(spare.back());
          spare.pop_back();
        }
        batch->Reset();
        batch->path = shared_path;
        batch->received = now;
      }
      batch->text.append(line);
      batch->offsets.push_back(static_cast<uint32_t>(batch->text.size()));
      batch->line_numbers.push_back((*reader)->line_number());
      if (batch->line_numbers.size() == batch_lines || batch->text.size() > (1u << 30)) {
        submit();
        if ((progress.lines & 0xFFFF) < batch_lines) {
          now = clock.Now();
          progress.consumed_bytes = (*reader)->consumed_bytes();
          if (options.on_progress) options.on_progress(progress);
        }
      }
    }
    submit();  // a batch holds one file's lines: the rejects name their file
    if (!(*reader)->status().ok()) {
      status = (*reader)->status();
      break;
    }
    progress.consumed_bytes = progress.file_bytes;
    if (options.on_progress) options.on_progress(progress);
  }
  if (status.ok() && options.at_end_of_input) {
    pipeline.Reap(/*wait=*/true, write_rejects);
    options.at_end_of_input();
  }
  pipeline.Finish(write_rejects);
  if (!status.ok()) return status;
  return total;
}

}  // namespace smetsmon::ingest
