// The checkpoint file: everything a restarted daemon needs to go on exactly where the last one
// stopped, in one file written atomically (base/binary_file.h: temporary file, fsync, rename,
// fsync of the directory) and checked by a CRC-32 over all of it.
//
//   "SMETSNAP"  u32 version (5)
//   the engine's state (aggregate::Engine::SaveState: devices, dedup, windows, counters, rule
//     inputs, pending outage signals; per worker)
//   u32 section count, then per section: u32 tag, u64 length, bytes  (version 5 on)
//     1 source offsets: the next offset of every input partition the state reflects
//     2 rules: the evaluator's state (rules::Evaluator::SaveState)
//     3 info: when it was written (wall clock, for people), the stream time
//   u32 CRC-32 of everything before it
//
// Versions 3 and 4 (engine only, the former `snapshot.path` files) still load. A section with an
// unknown tag is skipped, so a newer build's sections do not stop an older one.
// Thread-safety: none; the caller holds the engine still (workers paused or stopped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregate/engine.h"

namespace smetsmon::pipeline {

// One input partition's position: the first offset not reflected in the state.
struct SourceOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;
  bool operator==(const SourceOffset&) const = default;
};

struct CheckpointExtras {
  std::vector<SourceOffset> offsets;
  std::string rules_state;      // Evaluator::SaveState bytes; empty: rules off
  int64_t written_unix_ms = 0;  // processing time, informational
  int64_t stream_ms = 0;        // the stream time it reflects, informational
};

inline constexpr uint32_t kCheckpointVersion = aggregate::Engine::kStateVersion;

// Writes the checkpoint; returns its size in bytes. Whatever was at `path` stays there unless
// this succeeds.
absl::StatusOr<uint64_t> WriteCheckpoint(const std::string& path, const aggregate::Engine& engine,
                                         const CheckpointExtras& extras);

struct CheckpointRead {
  uint32_t version = 0;
  CheckpointExtras extras;
  uint64_t bytes = 0;
};
// Restores `engine` (freshly built, workers not started) from `path`. NotFound when there is no
// file; FailedPrecondition when it was taken under another configuration (workers, areas, dedup
// capacity...); DataLoss when it is not a checkpoint, truncated, corrupt or of an unknown version.
// On error the engine and the symbol tables may be partly restored: build afresh.
absl::StatusOr<CheckpointRead> ReadCheckpoint(const std::string& path, aggregate::Engine& engine);

}  // namespace smetsmon::pipeline
