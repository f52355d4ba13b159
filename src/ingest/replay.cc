#include "ingest/replay.h"

#include <algorithm>
#include <memory>

#include "decode/decoder.h"
#include "ingest/jsonl_reader.h"
#include "smetsmon/status.h"

namespace smetsmon::ingest {
namespace {

// A block of a file's lines, read in place by the pipeline's workers: `messages` point into
// `block`, which the batch owns until the pipeline hands it back.
struct LineBatch : pipeline::SourceBatch {
  LineBlock block;
  std::shared_ptr<const std::string> path;
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
        options.rejects->Reject(*b->path, b->block.first_line + index, reason, b->messages[index]);
      }
    }
    spare.push_back(std::move(b));
  };
  const size_t batch_lines = std::max<size_t>(options.batch_lines, 1);
  // About a batch of the generator's lines (~270 bytes) per block; a block ends at a whole line.
  const size_t block_bytes = std::clamp<size_t>(batch_lines * 288, 4096, size_t{1} << 30);
  const auto submit = [&](std::unique_ptr<LineBatch> batch) {
    while (!pipeline.CanSubmit()) {
      pipeline.WaitForFront(1000);
      pipeline.Reap(/*wait=*/false, write_rejects);
    }
    pipeline.Submit(std::move(batch));
    pipeline.Reap(/*wait=*/false, write_rejects);
  };
  absl::Status status;
  for (const std::string& path : files) {
    auto reader = JsonlReader::Open(path);
    if (!reader.ok()) {
      status = reader.status();
      break;
    }
    auto shared_path = std::make_shared<const std::string>(path);
    ReplayProgress progress{path, 0, 0, (*reader)->file_bytes()};
    ProcessingTime now = clock.Now();
    for (;;) {
      std::unique_ptr<LineBatch> batch;
      if (spare.empty()) {
        batch = std::make_unique<LineBatch>();
      } else {
        batch = std::move(spare.back());
        spare.pop_back();
      }
      if (!(*reader)->ReadBlock(block_bytes, batch_lines, decode::Decoder::padding(), &batch->block,
                                &batch->messages)) {
        spare.push_back(std::move(batch));
        break;
      }
      batch->padded_end = batch->block.padded_end();
      batch->path = shared_path;
      batch->received = now;
      const uint64_t lines_before = progress.lines;
      total += batch->messages.size();
      progress.lines += batch->messages.size();
      submit(std::move(batch));
      if ((progress.lines >> 16) != (lines_before >> 16)) {  // every ~64 k lines
        now = clock.Now();
        progress.consumed_bytes = (*reader)->consumed_bytes();
        if (options.on_progress) options.on_progress(progress);
      }
    }
    // A batch holds one file's lines: the rejects name their file.
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
