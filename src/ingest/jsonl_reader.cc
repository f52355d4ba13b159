#include "ingest/jsonl_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace smetsmon::ingest {
namespace {
constexpr size_t kMaxLine = 256 << 20;
}  // namespace

absl::StatusOr<std::unique_ptr<JsonlReader>> JsonlReader::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  unsigned char magic[2] = {0, 0};
  const bool gzip = ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzip) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::unique_ptr<JsonlReader>(
        new JsonlReader(fd, nullptr, path, static_cast<uint64_t>(st.st_size)));
  }
  gzFile gz = gzdopen(fd, "rb");  // owns fd from here
  if (gz == nullptr) {
    ::close(fd);
    return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  }
  gzbuffer(gz, 256 << 10);
  return std::unique_ptr<JsonlReader>(
      new JsonlReader(-1, gz, path, static_cast<uint64_t>(st.st_size)));
}

JsonlReader::JsonlReader(int fd, gzFile gz, std::string path, uint64_t file_bytes)
    : fd_(fd), gz_(gz), path_(std::move(path)), file_bytes_(file_bytes) {}

JsonlReader::~JsonlReader() {
  if (gz_ != nullptr) {
    gzclose(gz_);
  } else {
    ::close(fd_);
  }
}

uint64_t JsonlReader::consumed_bytes() const {
  if (gz_ == nullptr) return plain_offset_;
  const z_off_t off = gzoffset(gz_);
  return off < 0 ? 0 : static_cast<uint64_t>(off);
}

int64_t JsonlReader::Read(char* dst, size_t n) {
  if (gz_ != nullptr) {
    const int got = gzread(gz_, dst, static_cast<unsigned>(std::min<size_t>(n, 1u << 30)));
    if (got < 0) {
      int err = 0;
      status_ = absl::DataLossError(absl::StrCat(path_, ": read error: ", gzerror(gz_, &err)));
      return -1;
    }
    return got;
  }
  for (;;) {
    const ssize_t got = ::read(fd_, dst, n);
    if (got >= 0) {
      plain_offset_ += static_cast<uint64_t>(got);
      return got;
    }
    if (errno == EINTR) continue;
    status_ = absl::DataLossError(absl::StrCat(path_, ": read error: ", std::strerror(errno)));
    return -1;
  }
}

bool JsonlReader::ReadBlock(size_t target_bytes, size_t max_lines, size_t padding, LineBlock* block,
                            std::vector<std::string_view>* lines) {
  lines->clear();
  if (!status_.ok()) return false;
  max_lines = std::max<size_t>(max_lines, 1);
  // The block starts with what the previous one read past its last line.
  size_t limit = std::max(target_bytes, carry_.size() + 1);
  const auto ensure = [&](size_t bytes_kept) {
    const size_t need = limit + padding;
    if (block->capacity >= need) return;
    auto grown = std::make_unique<char[]>(need);
    if (bytes_kept > 0) std::memcpy(grown.get(), block->bytes.get(), bytes_kept);
    block->bytes = std::move(grown);
    block->capacity = need;
  };
  ensure(0);
  char* data = block->bytes.get();
  std::memcpy(data, carry_.data(), carry_.size());
  size_t filled = carry_.size();
  carry_.clear();
  size_t start = 0;  // the next line's first byte
  for (;;) {
    while (!eof_ && filled < limit) {
      const int64_t got = Read(data + filled, limit - filled);
      if (got < 0) return false;
      if (got == 0) eof_ = true;
      filled += static_cast<size_t>(got);
    }
    while (lines->size() < max_lines && start < filled) {
      const char* line = data + start;
      const void* nl = std::memchr(line, '\n', filled - start);
      if (nl == nullptr && !eof_) break;  // a partial line: the next block's (or a longer one)
      const size_t len =
          nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - line) : filled - start;
      const size_t trimmed = len > 0 && line[len - 1] == '\r' ? len - 1 : len;
      lines->emplace_back(line, trimmed);
      start += len + (nl != nullptr ? 1 : 0);
    }
    if (!lines->empty() || (eof_ && start >= filled)) break;
    // Not one whole line in `limit` bytes: a long line; read on into a larger block.
    if (limit >= kMaxLine) {
      status_ = absl::ResourceExhaustedError(
          absl::StrCat(path_, ":", line_number_ + 1, ": line longer than ", kMaxLine, " bytes"));
      return false;
    }
    limit = std::min(limit * 2, kMaxLine);
    ensure(filled);
    data = block->bytes.get();
  }
  carry_.assign(data + start, filled - start);
  block->size = start;
  block->padding = padding;
  block->first_line = line_number_ + 1;
  // The padding is readable; where the read did not reach it, it is zeroed (never uninitialised).
  if (filled < start + padding) std::memset(data + filled, 0, start + padding - filled);
  line_number_ += lines->size();
  return !lines->empty();
}

}  // namespace smetsmon::ingest
