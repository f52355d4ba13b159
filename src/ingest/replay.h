// Replays JSON Lines files through a decoder into the engine on event time alone: the only clock
// read is the processing time used for the contract's future-time check (once per batch). All
// events go to the engine's workers in file order, from the calling thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregate/engine.h"
#include "decode/decoder.h"
#include "ingest/dead_letter.h"
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
  // Called after each batch is applied (e.g. to run the rules at the new stream time).
  std::function<void()> after_batch;
};

// Returns the number of lines read; a file that cannot be read is an error (lines already
// applied stay applied).
absl::StatusOr<uint64_t> ReplayFiles(const std::vector<std::string>& files,
                                     aggregate::Engine& engine, decode::Decoder& decoder,
                                     const Clock& clock, const ReplayOptions& options);

}  // namespace smetsmon::ingest
