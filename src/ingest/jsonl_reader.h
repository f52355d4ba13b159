// Reads a JSON Lines file (plain or gzip, detected by content) line by line into a reused buffer
// that keeps enough readable padding after every line for simdjson to parse it in place.
//
// Thread-safety: none. No per-line allocation: the buffer grows only for a line longer than any
// before it.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace smetsmon::ingest {

class JsonlReader {
 public:
  static absl::StatusOr<std::unique_ptr<JsonlReader>> Open(const std::string& path, size_t padding);
  ~JsonlReader();

  // The next line without its '\n' (and '\r'); `*padded_capacity` is the readable size from
  // line->data(). False at end of file or on a read error (see status()).
  bool Next(std::string_view* line, size_t* padded_capacity);

  const absl::Status& status() const { return status_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes of the (possibly compressed) file consumed so far, for progress.
  uint64_t consumed_bytes() const;
  uint64_t line_number() const { return line_number_; }

 private:
  JsonlReader(gzFile f, std::string path, size_t padding, uint64_t file_bytes);
  bool Fill();

  gzFile file_;
  std::string path_;
  size_t padding_;
  uint64_t file_bytes_;
  std::vector<char> buf_;  // [0, end_) data, then >= padding_ spare bytes
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
  absl::Status status_;
};

}  // namespace smetsmon::ingest
