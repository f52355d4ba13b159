#include "ingest/dead_letter.h"

#include <cerrno>
#include <cstring>
#include <memory>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/json_writer.h"

namespace smetsmon::ingest {

absl::StatusOr<std::unique_ptr<FileDeadLetterSink>> FileDeadLetterSink::Open(
    const std::string& path, bool append) {
  std::FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  return std::unique_ptr<FileDeadLetterSink>(new FileDeadLetterSink(f, path));
}

FileDeadLetterSink::~FileDeadLetterSink() {
  if (f_ != nullptr) std::fclose(f_);
}

void FileDeadLetterSink::Reject(std::string_view source, uint64_t position, RejectReason reason,
                                std::string_view raw) {
  Append(source, position, reason, raw);
}

bool FileDeadLetterSink::Append(std::string_view source, uint64_t position, RejectReason reason,
                                std::string_view raw) {
  line_.clear();
  line_.append("{\"reason\":\"").append(RejectReasonName(reason)).append("\",\"source\":\"");
  JsonWriter::Escape(source, &line_);
  absl::StrAppend(&line_, "\",\"line\":", position, ",\"raw\":\"");
  JsonWriter::Escape(raw, &line_);
  line_.append("\"}\n");
  const bool written = std::fwrite(line_.data(), 1, line_.size(), f_) == line_.size();
  ok_ = ok_ && written;
  return written;
}

absl::Status FileDeadLetterSink::Sync() {
  const bool flushed = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
  if (!ok_ || !flushed) {
    const int err = errno;
    // The next Sync says again whether what follows is durable; this one's records are not.
    ok_ = true;
    return absl::DataLossError(absl::StrCat(path_, ": write failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status FileDeadLetterSink::Close() {
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok_ || !closed) return absl::DataLossError(absl::StrCat(path_, ": write failed"));
  return absl::OkStatus();
}

}  // namespace smetsmon::ingest
