#include "base/binary_file.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace smetsmon {

BinaryWriter::BinaryWriter(const std::string& path)
    : path_(path), tmp_path_(path + ".tmp"), crc_(static_cast<uint32_t>(crc32(0, nullptr, 0))) {
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  ok_ = f_ != nullptr;
  if (f_ != nullptr) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

BinaryWriter::~BinaryWriter() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_path_.c_str());
  }
}

void BinaryWriter::Bytes(const void* data, size_t n) {
  if (!ok_ || n == 0) return;
  crc_ = static_cast<uint32_t>(crc32_z(crc_, static_cast<const Bytef*>(data), n));
  ok_ = std::fwrite(data, 1, n, f_) == n;
}

void BinaryWriter::String(const std::string& s) {
  Pod<uint64_t>(s.size());
  Bytes(s.data(), s.size());
}

absl::Status BinaryWriter::Finish() {
  if (f_ == nullptr) return absl::UnavailableError(absl::StrCat(tmp_path_, ": cannot create"));
  const uint32_t crc = crc_;
  if (ok_) ok_ = std::fwrite(&crc, 1, sizeof crc, f_) == sizeof crc;
  if (ok_) ok_ = std::fflush(f_) == 0 && ::fsync(fileno(f_)) == 0;
  ok_ = (std::fclose(f_) == 0) && ok_;
  f_ = nullptr;
  if (!ok_) {
    std::remove(tmp_path_.c_str());
    return absl::UnavailableError(absl::StrCat(tmp_path_, ": write failed"));
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(path_, ": rename failed"));
  }
  return absl::OkStatus();
}

BinaryReader::BinaryReader(const std::string& path)
    : path_(path), crc_(static_cast<uint32_t>(crc32(0, nullptr, 0))) {
  f_ = std::fopen(path.c_str(), "rb");
  ok_ = f_ != nullptr;
  if (f_ != nullptr) std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
}

BinaryReader::~BinaryReader() {
  if (f_ != nullptr) std::fclose(f_);
}

void BinaryReader::Bytes(void* data, size_t n) {
  if (!ok_ || n == 0) return;
  ok_ = std::fread(data, 1, n, f_) == n;
  if (ok_) crc_ = static_cast<uint32_t>(crc32_z(crc_, static_cast<const Bytef*>(data), n));
}

std::string BinaryReader::String(size_t max_len) {
  const auto n = Pod<uint64_t>();
  if (n > max_len) {
    ok_ = false;
    return {};
  }
  std::string s(ok_ ? n : 0, '\0');
  Bytes(s.data(), s.size());
  return s;
}

absl::Status BinaryReader::Finish() {
  if (f_ == nullptr) return absl::NotFoundError(absl::StrCat(path_, ": cannot open"));
  const uint32_t expected = crc_;
  uint32_t stored = 0;
  if (ok_) ok_ = std::fread(&stored, 1, sizeof stored, f_) == sizeof stored;
  if (!ok_) return absl::DataLossError(absl::StrCat(path_, ": truncated or malformed snapshot"));
  if (stored != expected)
    return absl::DataLossError(absl::StrCat(path_, ": snapshot checksum mismatch"));
  if (std::fgetc(f_) != EOF)
    return absl::DataLossError(absl::StrCat(path_, ": trailing bytes after snapshot"));
  return absl::OkStatus();
}

}  // namespace smetsmon
