// Reads a JSON Lines file (plain or gzip, detected by content) in blocks of whole lines, read
// straight into a buffer the caller owns, with readable padding after the last line: the lines
// are parsed in place wherever the block goes (a replay batch owns its block until the pipeline
// hands it back), so a line is never copied after the read that brought it in.
//
// Thread-safety: none. No per-line allocation: a block's buffer is reused, and grows only for a
// line longer than the block's target.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace smetsmon::ingest {

// Storage for one block of lines; reused from block to block.
struct LineBlock {
  std::unique_ptr<char[]> bytes;
  size_t capacity = 0;
  size_t size = 0;          // bytes of whole lines (with their '\n')
  uint64_t first_line = 0;  // 1-based number of the block's first line in its file
  // One past the last readable byte: at least the reader's padding after every line.
  const char* padded_end() const { return bytes.get() + size + padding; }
  size_t padding = 0;
};

class JsonlReader {
 public:
  static absl::StatusOr<std::unique_ptr<JsonlReader>> Open(const std::string& path);
  ~JsonlReader();
  JsonlReader(const JsonlReader&) = delete;
  JsonlReader& operator=(const JsonlReader&) = delete;

  // Fills `block` with the next whole lines, about `target_bytes` of them and at most
  // `max_lines`, and `lines` with each one without its '\n' (and '\r'); `padding` readable bytes
  // follow the last line. A line longer than the target grows the block. False when no line is
  // left: the end of the file, or a read error (status()).
  bool ReadBlock(size_t target_bytes, size_t max_lines, size_t padding, LineBlock* block,
                 std::vector<std::string_view>* lines);

  const absl::Status& status() const { return status_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // Bytes of the (possibly compressed) file consumed so far, for progress.
  uint64_t consumed_bytes() const;
  uint64_t line_number() const { return line_number_; }  // lines returned so far

 private:
  JsonlReader(int fd, gzFile gz, std::string path, uint64_t file_bytes);
  // Up to `n` bytes into `dst`: 0 at the end of the file, -1 on an error (status_ set).
  int64_t Read(char* dst, size_t n);

  int fd_;     // a plain file (gz_ == nullptr)
  gzFile gz_;  // a gzip file
  std::string path_;
  uint64_t file_bytes_;
  uint64_t plain_offset_ = 0;
  std::string carry_;  // bytes read past the last line of the previous block
  bool eof_ = false;
  uint64_t line_number_ = 0;
  absl::Status status_;
};

}  // namespace smetsmon::ingest
