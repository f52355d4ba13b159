// Binary I/O with a running CRC-32, for versioned checkpoints: to and from a file (buffered), or
// to and from memory (a section of a checkpoint built before its length is known). Values are
// written in the machine's byte order (checkpoints are restored on the same platform). Errors
// are sticky: check ok()/status() once at the end. Thread-safety: none.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"

namespace smetsmon {

class BinaryWriter {
 public:
  // To `path`, through `path.tmp`: nothing appears under `path` until Finish succeeds.
  explicit BinaryWriter(const std::string& path);
  // To memory (TakeBytes); no CRC trailer, no file.
  static BinaryWriter ToMemory() { return BinaryWriter(); }
  BinaryWriter(const BinaryWriter&) = delete;
  BinaryWriter& operator=(const BinaryWriter&) = delete;
  ~BinaryWriter();

  void Bytes(const void* data, size_t n);
  template <typename T>
  void Pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Bytes(&v, sizeof v);
  }
  void String(std::string_view s);
  template <typename T>
  void Vector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Pod<uint64_t>(v.size());
    Bytes(v.data(), v.size() * sizeof(T));
  }
  bool ok() const { return ok_; }
  uint64_t bytes_written() const { return written_; }

  // File: writes the CRC trailer, flushes, fsyncs, renames the temporary file into place and
  // fsyncs the directory, so the new file survives a power cut once this returns OK. On error
  // the temporary file is removed and whatever was at `path` before stays.
  absl::Status Finish();
  // Memory: the bytes written.
  std::string TakeBytes() { return std::move(buffer_); }

 private:
  BinaryWriter() = default;
  // File: the CRC and the write of what is buffered (small values are gathered first: a
  // checkpoint is tens of millions of 8-byte values).
  void Flush();
  static constexpr size_t kChunk = size_t{1} << 20;
  std::string path_, tmp_path_;
  int fd_ = -1;
  bool memory_ = true;
  std::string buffer_;  // memory: everything; file: up to kChunk not yet written
  uint32_t crc_ = 0;
  uint64_t written_ = 0;
  bool ok_ = true;
};

class BinaryReader {
 public:
  explicit BinaryReader(const std::string& path);
  // Over `bytes`, which must outlive the reader; no CRC trailer.
  static BinaryReader FromMemory(std::string_view bytes) { return BinaryReader(bytes); }
  BinaryReader(const BinaryReader&) = delete;
  BinaryReader& operator=(const BinaryReader&) = delete;
  ~BinaryReader();

  bool opened() const { return fd_ >= 0 || memory_; }
  void Bytes(void* data, size_t n);
  template <typename T>
  T Pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    Bytes(&v, sizeof v);
    return v;
  }
  std::string String(size_t max_len = 1 << 20);
  template <typename T>
  std::vector<T> Vector(size_t max_elems) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto n = Pod<uint64_t>();
    if (n > max_elems || n * sizeof(T) > remaining()) {
      ok_ = false;
      return {};
    }
    std::vector<T> v(ok_ ? n : 0);
    Bytes(v.data(), v.size() * sizeof(T));
    return v;
  }
  bool ok() const { return ok_; }
  // Bytes left to read (file: before the CRC trailer).
  uint64_t remaining() const { return (mem_.size() - mem_pos_) + content_left_; }
  // A malformed value was read (a count out of range): the reader fails from here on.
  void Fail() { ok_ = false; }
  // File: verifies the CRC trailer and that the file ends there. Memory: that every byte was read.
  absl::Status Finish();

 private:
  explicit BinaryReader(std::string_view bytes) : memory_(true), mem_(bytes) {}
  // File: reads the next chunk of the content (everything before the CRC trailer) into
  // `chunk_`, adding it to the CRC; false at its end.
  bool Refill();
  static constexpr size_t kChunk = size_t{1} << 20;
  std::string path_;
  int fd_ = -1;
  uint64_t content_left_ = 0;  // file: content bytes not yet read into chunk_
  std::string chunk_;
  bool memory_ = false;
  std::string_view mem_;  // memory: the bytes; file: view of chunk_
  size_t mem_pos_ = 0;
  uint32_t crc_ = 0;
  bool ok_ = true;
};

}  // namespace smetsmon
