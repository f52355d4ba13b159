// Buffered binary file I/O with a running CRC-32, for versioned snapshots. Values are written in
// the machine's byte order (snapshots are restored on the same platform). Errors are sticky: check
// ok()/status() once at the end. Thread-safety: none.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"

namespace smetsmon {

class BinaryWriter {
 public:
  explicit BinaryWriter(const std::string& path);
  ~BinaryWriter();
  void Bytes(const void* data, size_t n);
  template <typename T>
  void Pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    Bytes(&v, sizeof v);
  }
  void String(const std::string& s);
  template <typename T>
  void Vector(const std::vector<T>& v) {
    Pod<uint64_t>(v.size());
    Bytes(v.data(), v.size() * sizeof(T));
  }
  // Writes the CRC trailer, flushes, fsyncs and renames the temporary file into place.
  absl::Status Finish();

 private:
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
  uint32_t crc_ = 0;
  bool ok_ = true;
};

class BinaryReader {
 public:
  explicit BinaryReader(const std::string& path);
  ~BinaryReader();
  bool opened() const { return f_ != nullptr; }
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
    const auto n = Pod<uint64_t>();
    if (n > max_elems) {
      ok_ = false;
      return {};
    }
    std::vector<T> v(ok_ ? n : 0);
    Bytes(v.data(), v.size() * sizeof(T));
    return v;
  }
  bool ok() const { return ok_; }
  // Verifies the CRC trailer and that the file ends there.
  absl::Status Finish();

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint32_t crc_ = 0;
  bool ok_ = true;
};

}  // namespace smetsmon
