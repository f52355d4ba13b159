#include "ingest/jsonl_reader.h"

#include <sys/stat.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace smetsmon::ingest {
namespace {
constexpr size_t kChunk = 4 << 20;
constexpr size_t kMaxLine = 256 << 20;
}  // namespace

absl::StatusOr<std::unique_ptr<JsonlReader>> JsonlReader::Open(const std::string& path,
                                                               size_t padding) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  gzbuffer(f, 256 << 10);
  return std::unique_ptr<JsonlReader>(
      new JsonlReader(f, path, padding, static_cast<uint64_t>(st.st_size)));
}

JsonlReader::JsonlReader(gzFile f, std::string path, size_t padding, uint64_t file_bytes)
    : file_(f), path_(std::move(path)), padding_(padding), file_bytes_(file_bytes) {
  buf_.resize(kChunk + padding_);
}

JsonlReader::~JsonlReader() { gzclose(file_); }

uint64_t JsonlReader::consumed_bytes() const {
  const z_off_t off = gzoffset(file_);
  return off < 0 ? 0 : static_cast<uint64_t>(off);
}

bool JsonlReader::Fill() {
  // Move the partial line to the front, grow if one line fills the buffer, then read.
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const size_t usable = buf_.size() - padding_;
  if (end_ == usable) {
    if (usable >= kMaxLine) {
      status_ = absl::ResourceExhaustedError(
          absl::StrCat(path_, ":", line_number_ + 1, ": line longer than ", kMaxLine, " bytes"));
      return false;
    }
    buf_.resize(usable * 2 + padding_);
  }
  const size_t room = buf_.size() - padding_ - end_;
  const int n = gzread(file_, buf_.data() + end_, static_cast<unsigned>(room));
  if (n < 0) {
    int err = 0;
    status_ = absl::DataLossError(absl::StrCat(path_, ": read error: ", gzerror(file_, &err)));
    return false;
  }
  if (n == 0) eof_ = true;
  end_ += static_cast<size_t>(n);
  return true;
}

bool JsonlReader::Next(std::string_view* line, size_t* padded_capacity) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl != nullptr || (eof_ && end_ > begin_)) {
      const size_t len =
          nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - start) : end_ - begin_;
      begin_ += len + (nl != nullptr ? 1 : 0);
      size_t trimmed = len;
      if (trimmed > 0 && start[trimmed - 1] == '\r') --trimmed;
      *line = std::string_view(start, trimmed);
      *padded_capacity = static_cast<size_t>(buf_.data() + buf_.size() - start);
      ++line_number_;
      return true;
    }
    if (eof_ || !status_.ok()) return false;
    if (!Fill()) return false;
  }
}

}  // namespace smetsmon::ingest
