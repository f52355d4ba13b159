#include "pipeline/checkpoint.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/binary_file.h"
#include "smetsmon/status.h"

namespace smetsmon::pipeline {
namespace {

constexpr char kMagic[8] = {'S', 'M', 'E', 'T', 'S', 'N', 'A', 'P'};
enum SectionTag : uint32_t { kOffsets = 1, kRules = 2, kInfo = 3 };
constexpr uint32_t kMaxSections = 64;
constexpr size_t kMaxOffsets = 1 << 20;
constexpr size_t kMaxSectionBytes = size_t{4} << 30;

void WriteSection(BinaryWriter& w, uint32_t tag, const std::string& bytes) {
  w.Pod(tag);
  w.String(bytes);
}

}  // namespace

absl::StatusOr<uint64_t> WriteCheckpoint(const std::string& path, const aggregate::Engine& engine,
                                         const CheckpointExtras& extras) {
  BinaryWriter w(path);
  w.Bytes(kMagic, sizeof kMagic);
  w.Pod(kCheckpointVersion);
  engine.SaveState(w);
  BinaryWriter offsets = BinaryWriter::ToMemory();
  offsets.Pod<uint64_t>(extras.offsets.size());
  for (const SourceOffset& o : extras.offsets) {
    offsets.String(o.topic);
    offsets.Pod(o.partition);
    offsets.Pod(o.next_offset);
  }
  BinaryWriter info = BinaryWriter::ToMemory();
  info.Pod(extras.written_unix_ms);
  info.Pod(extras.stream_ms);
  const bool rules = !extras.rules_state.empty();
  w.Pod<uint32_t>(rules ? 3 : 2);
  WriteSection(w, kOffsets, offsets.TakeBytes());
  if (rules) WriteSection(w, kRules, extras.rules_state);
  WriteSection(w, kInfo, info.TakeBytes());
  const uint64_t bytes = w.bytes_written() + sizeof(uint32_t);  // + the CRC
  SMETSMON_RETURN_IF_ERROR(w.Finish());
  return bytes;
}

absl::StatusOr<CheckpointRead> ReadCheckpoint(const std::string& path, aggregate::Engine& engine) {
  BinaryReader r(path);
  if (!r.opened()) return absl::NotFoundError(absl::StrCat(path, ": cannot open checkpoint"));
  char magic[sizeof kMagic];
  r.Bytes(magic, sizeof magic);
  if (!r.ok() || !std::equal(magic, magic + sizeof magic, kMagic)) {
    return absl::DataLossError(absl::StrCat(path, ": not a smetsmon checkpoint"));
  }
  CheckpointRead out;
  out.version = r.Pod<uint32_t>();
  if (!r.ok() || out.version < aggregate::Engine::kOldestStateVersion ||
      out.version > kCheckpointVersion) {
    return absl::DataLossError(
        absl::StrCat(path, ": checkpoint version ", out.version, ", this build reads ",
                     aggregate::Engine::kOldestStateVersion, " to ", kCheckpointVersion));
  }
  SMETSMON_RETURN_IF_ERROR(engine.LoadState(r, out.version, path));
  if (out.version >= 5) {
    const auto sections = r.Pod<uint32_t>();
    if (!r.ok() || sections > kMaxSections) {
      return absl::DataLossError(absl::StrCat(path, ": truncated or malformed checkpoint"));
    }
    for (uint32_t i = 0; i < sections && r.ok(); ++i) {
      const auto tag = r.Pod<uint32_t>();
      std::string bytes = r.String(kMaxSectionBytes);
      if (!r.ok()) break;
      BinaryReader s = BinaryReader::FromMemory(bytes);
      switch (tag) {
        case kOffsets: {
          const auto n = s.Pod<uint64_t>();
          if (n > kMaxOffsets) s.Fail();
          for (uint64_t k = 0; k < n && s.ok(); ++k) {
            SourceOffset o;
            o.topic = s.String(256);
            o.partition = s.Pod<int32_t>();
            o.next_offset = s.Pod<int64_t>();
            out.extras.offsets.push_back(std::move(o));
          }
          break;
        }
        case kRules:
          out.extras.rules_state = std::move(bytes);  // `s` is not read again
          continue;
        case kInfo:
          out.extras.written_unix_ms = s.Pod<int64_t>();
          out.extras.stream_ms = s.Pod<int64_t>();
          break;
        default:
          continue;  // a newer build's section
      }
      if (absl::Status st = s.Finish(); !st.ok()) {
        return absl::DataLossError(absl::StrCat(path, ": section ", tag, ": ", st.message()));
      }
    }
  }
  SMETSMON_RETURN_IF_ERROR(r.Finish());
  out.bytes = std::filesystem::file_size(path);
  return out;
}

}  // namespace smetsmon::pipeline
