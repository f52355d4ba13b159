#include "base/binary_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace smetsmon {
namespace {

uint32_t CrcStart() { return static_cast<uint32_t>(crc32(0, nullptr, 0)); }

uint32_t Crc(uint32_t crc, const void* data, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

// Writes all of `n` bytes (retrying short writes and EINTR); false with errno set.
bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads exactly `n` bytes; false at a short file or an error.
bool ReadAll(int fd, char* data, size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, data, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// fsync of the directory holding `path`, so that a rename into it is durable.
bool SyncDirectoryOf(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = std::filesystem::current_path();
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

BinaryWriter::BinaryWriter(const std::string& path)
    : path_(path), tmp_path_(path + ".tmp"), memory_(false), crc_(CrcStart()) {
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ok_ = fd_ >= 0;
  if (ok_) buffer_.reserve(kChunk);
}

BinaryWriter::~BinaryWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void BinaryWriter::Flush() {
  if (!ok_ || buffer_.empty()) return;
  crc_ = Crc(crc_, buffer_.data(), buffer_.size());
  ok_ = WriteAll(fd_, buffer_.data(), buffer_.size());
  buffer_.clear();
}

void BinaryWriter::Bytes(const void* data, size_t n) {
  if (!ok_ || n == 0) return;
  written_ += n;
  if (memory_) {
    buffer_.append(static_cast<const char*>(data), n);
    return;
  }
  if (buffer_.size() + n > kChunk) Flush();
  if (n >= kChunk) {  // large blocks go straight out
    crc_ = Crc(crc_, data, n);
    ok_ = ok_ && WriteAll(fd_, static_cast<const char*>(data), n);
    return;
  }
  buffer_.append(static_cast<const char*>(data), n);
}

void BinaryWriter::String(std::string_view s) {
  Pod<uint64_t>(s.size());
  Bytes(s.data(), s.size());
}

absl::Status BinaryWriter::Finish() {
  if (memory_) return ok_ ? absl::OkStatus() : absl::InternalError("memory write failed");
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat(tmp_path_, ": cannot create: ", std::strerror(errno)));
  }
  Flush();
  const uint32_t crc = crc_;
  if (ok_) ok_ = WriteAll(fd_, reinterpret_cast<const char*>(&crc), sizeof crc);
  if (ok_) ok_ = ::fsync(fd_) == 0;
  const int err = ok_ ? 0 : errno;
  ok_ = (::close(fd_) == 0) && ok_;
  fd_ = -1;
  if (!ok_) {
    ::unlink(tmp_path_.c_str());
    return absl::UnavailableError(
        absl::StrCat(tmp_path_, ": write failed: ", std::strerror(err != 0 ? err : EIO)));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int rename_err = errno;
    ::unlink(tmp_path_.c_str());
    return absl::UnavailableError(
        absl::StrCat(path_, ": rename failed: ", std::strerror(rename_err)));
  }
  if (!SyncDirectoryOf(path_)) {
    return absl::UnavailableError(
        absl::StrCat(path_, ": directory fsync failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

BinaryReader::BinaryReader(const std::string& path) : path_(path), crc_(CrcStart()) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ok_ = fd_ >= 0;
  struct stat st {};
  if (ok_ && ::fstat(fd_, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(uint32_t))) {
    content_left_ = static_cast<uint64_t>(st.st_size) - sizeof(uint32_t);
  }
  // Sequential reads: ask for read-ahead.
  if (ok_) ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

BinaryReader::~BinaryReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool BinaryReader::Refill() {
  if (memory_ || content_left_ == 0) return false;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, content_left_));
  chunk_.resize(n);
  if (!ReadAll(fd_, chunk_.data(), n)) return false;
  content_left_ -= n;
  crc_ = Crc(crc_, chunk_.data(), n);
  mem_ = chunk_;
  mem_pos_ = 0;
  return true;
}

void BinaryReader::Bytes(void* data, size_t n) {
  if (!ok_ || n == 0) return;
  auto* out = static_cast<char*>(data);
  while (n > 0) {
    if (mem_pos_ == mem_.size() && !Refill()) {
      ok_ = false;
      return;
    }
    const size_t take = std::min(n, mem_.size() - mem_pos_);
    std::memcpy(out, mem_.data() + mem_pos_, take);
    mem_pos_ += take;
    out += take;
    n -= take;
  }
}

std::string BinaryReader::String(size_t max_len) {
  const auto n = Pod<uint64_t>();
  if (n > max_len || n > remaining()) {
    ok_ = false;
    return {};
  }
  std::string s(ok_ ? n : 0, '\0');
  Bytes(s.data(), s.size());
  return s;
}

absl::Status BinaryReader::Finish() {
  if (memory_) {
    if (!ok_) return absl::DataLossError("truncated or malformed section");
    if (mem_pos_ != mem_.size()) return absl::DataLossError("trailing bytes after section");
    return absl::OkStatus();
  }
  if (fd_ < 0) return absl::NotFoundError(absl::StrCat(path_, ": cannot open"));
  if (!ok_) return absl::DataLossError(absl::StrCat(path_, ": truncated or malformed checkpoint"));
  if (remaining() != 0) {
    return absl::DataLossError(absl::StrCat(path_, ": trailing bytes after checkpoint"));
  }
  uint32_t stored = 0;
  if (!ReadAll(fd_, reinterpret_cast<char*>(&stored), sizeof stored)) {
    return absl::DataLossError(absl::StrCat(path_, ": truncated checkpoint"));
  }
  if (stored != crc_)
    return absl::DataLossError(absl::StrCat(path_, ": checkpoint checksum mismatch"));
  return absl::OkStatus();
}

}  // namespace smetsmon
