// Where rejected input goes, kept whole with its reason: a file of JSON records for replay (and,
// from the daemon, a Kafka dead-letter topic implementing the same interface).
// Thread-safety: a sink is used by one thread.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "smetsmon/reject_reason.h"

namespace smetsmon::ingest {

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // `source` names the file (or topic/partition), `position` the line (or offset).
  virtual void Reject(std::string_view source, uint64_t position, RejectReason reason,
                      std::string_view raw) = 0;
};

// One JSON object per line: {"reason":"bad_time","source":"f.jsonl","line":7,"raw":"<original>"}
// where raw is the rejected line, whole, as a JSON string.
class FileDeadLetterSink final : public DeadLetterSink {
 public:
  static absl::StatusOr<std::unique_ptr<FileDeadLetterSink>> Open(const std::string& path);
  ~FileDeadLetterSink() override;
  void Reject(std::string_view source, uint64_t position, RejectReason reason,
              std::string_view raw) override;
  absl::Status Close();

 private:
  explicit FileDeadLetterSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  std::FILE* f_;
  std::string path_;
  std::string line_;
  bool ok_ = true;
};

}  // namespace smetsmon::ingest
