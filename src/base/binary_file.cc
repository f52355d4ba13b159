#include "base/binary_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace smetsmon {
namespace {

uint32_t CrcStart() { return static_cast<uint32_t>(crc32(0, nullptr, 0)); }

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
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  ok_ = f_ != nullptr;
  if (f_ != nullptr) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

BinaryWriter::BinaryWriter(BinaryWriter&& o) noexcept
    : path_(std::move(o.path_)),
      tmp_path_(std::move(o.tmp_path_)),
      f_(o.f_),
      memory_(o.memory_),
      buffer_(std::move(o.buffer_)),
      crc_(o.crc_),
      written_(o.written_),
      ok_(o.ok_) {
  o.f_ = nullptr;
}

BinaryWriter::~BinaryWriter() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_path_.c_str());
  }
}

void BinaryWriter::Bytes(const void* data, size_t n) {
  if (!ok_ || n == 0) return;
  written_ += n;
  if (memory_) {
    buffer_.append(static_cast<const char*>(data), n);
    return;
  }
  crc_ = static_cast<uint32_t>(crc32_z(crc_, static_cast<const Bytef*>(data), n));
  ok_ = std::fwrite(data, 1, n, f_) == n;
}

void BinaryWriter::String(std::string_view s) {
  Pod<uint64_t>(s.size());
  Bytes(s.data(), s.size());
}

absl::Status BinaryWriter::Finish() {
  if (memory_) return ok_ ? absl::OkStatus() : absl::InternalError("memory write failed");
  if (f_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(tmp_path_, ": cannot create: ", std::strerror(errno)));
  }
  const uint32_t crc = crc_;
  if (ok_) ok_ = std::fwrite(&crc, 1, sizeof crc, f_) == sizeof crc;
  if (ok_) ok_ = std::fflush(f_) == 0 && ::fsync(fileno(f_)) == 0;
  const int err = ok_ ? 0 : errno;
  ok_ = (std::fclose(f_) == 0) && ok_;
  f_ = nullptr;
  if (!ok_) {
    std::remove(tmp_path_.c_str());
    return absl::UnavailableError(
        absl::StrCat(tmp_path_, ": write failed: ", std::strerror(err != 0 ? err : EIO)));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int rename_err = errno;
    std::remove(tmp_path_.c_str());
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
  f_ = std::fopen(path.c_str(), "rb");
  ok_ = f_ != nullptr;
  if (f_ != nullptr) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

BinaryReader::BinaryReader(BinaryReader&& o) noexcept
    : path_(std::move(o.path_)),
      f_(o.f_),
      memory_(o.memory_),
      mem_(o.mem_),
      mem_pos_(o.mem_pos_),
      crc_(o.crc_),
      ok_(o.ok_) {
  o.f_ = nullptr;
}

BinaryReader::~BinaryReader() {
  if (f_ != nullptr) std::fclose(f_);
}

void BinaryReader::Bytes(void* data, size_t n) {
  if (!ok_ || n == 0) return;
  if (memory_) {
    ok_ = n <= mem_.size() - mem_pos_;
    if (ok_) {
      std::memcpy(data, mem_.data() + mem_pos_, n);
      mem_pos_ += n;
    }
    return;
  }
  ok_ = std::fread(data, 1, n, f_) == n;
  if (ok_) crc_ = static_cast<uint32_t>(crc32_z(crc_, static_cast<const Bytef*>(data), n));
}

std::string BinaryReader::String(size_t max_len) {
  const auto n = Pod<uint64_t>();
  if (n > max_len || (memory_ && n > mem_.size() - mem_pos_)) {
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
  if (f_ == nullptr) return absl::NotFoundError(absl::StrCat(path_, ": cannot open"));
  const uint32_t expected = crc_;
  uint32_t stored = 0;
  if (ok_) ok_ = std::fread(&stored, 1, sizeof stored, f_) == sizeof stored;
  if (!ok_) return absl::DataLossError(absl::StrCat(path_, ": truncated or malformed checkpoint"));
  if (stored != expected)
    return absl::DataLossError(absl::StrCat(path_, ": checkpoint checksum mismatch"));
  if (std::fgetc(f_) != EOF)
    return absl::DataLossError(absl::StrCat(path_, ": trailing bytes after checkpoint"));
  return absl::OkStatus();
}

}  // namespace smetsmon
