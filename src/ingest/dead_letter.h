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
// where raw is the rejected line, whole, as a JSON string. The Kafka ingest's fallback file
// (KafkaConfig::dead_letter_file) uses the same format with source "<topic>/<partition>" and line
// the message's offset, and is opened for append: it outlives restarts.
class FileDeadLetterSink final : public DeadLetterSink {
 public:
  // Truncates `path` unless `append`.
  static absl::StatusOr<std::unique_ptr<FileDeadLetterSink>> Open(const std::string& path,
                                                                  bool append = false);
  ~FileDeadLetterSink() override;
  void Reject(std::string_view source, uint64_t position, RejectReason reason,
              std::string_view raw) override;
  // Reject, saying whether this record was handed to the file whole (a failed write is also
  // remembered: Sync and Close then fail).
  bool Append(std::string_view source, uint64_t position, RejectReason reason,
              std::string_view raw);
  // Makes every record appended so far durable (fflush, fsync); an error if any write failed
  // since the last successful Sync, or the flush or fsync fails.
  absl::Status Sync();
  absl::Status Close();

 private:
  explicit FileDeadLetterSink(std::FILE* f, std::string path) : f_(f), path_(std::move(path)) {}
  std::FILE* f_;
  std::string path_;
  std::string line_;
  bool ok_ = true;
};

}  // namespace smetsmon::ingest
