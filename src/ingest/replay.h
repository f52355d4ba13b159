// Replays JSON Lines files into the pipeline on event time alone: this thread reads the lines (the
// pipeline's router scans and routes them; its workers decode and apply), and the only clock read
// is the processing time used for the contract's future-time check (once per batch).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/dead_letter.h"
#include "pipeline/pipeline.h"
#include "smetsmon/clock.h"

namespace smetsmon::ingest {

struct ReplayProgress {
  std::string file;
  uint64_t lines = 0;
  uint64_t consumed_bytes = 0;
  uint64_t file_bytes = 0;
};

struct ReplayOptions {
  DeadLetterSink* rejects = nullptr;  // optional
  // Called every ~64 k lines and at the end of each file (e.g. to draw a progress line).
  std::function<void(const ReplayProgress&)> on_progress;
  size_t batch_lines = 4096;
  // Called once every line is applied and reaped, before the last evaluation at the end of the
  // stream (replay --snapshot-out checkpoints here: the state a live daemon would have had, not
  // the report's end-of-stream evaluation off the rules' grid).
  std::function<void()> at_end_of_input;
};

// Returns the number of lines read, once every line is applied and the rules evaluated at the end
// of the stream (Pipeline::Finish); a file that cannot be read is an error (lines already read
// are still applied).
absl::StatusOr<uint64_t> ReplayFiles(const std::vector<std::string>& files,
                                     pipeline::Pipeline& pipeline, const Clock& clock,
                                     const ReplayOptions& options);

}  // namespace smetsmon::ingest
