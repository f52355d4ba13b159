#include "ingest/replay.h"

#include <zlib.h>

#include <gtest/gtest.h>

#include "ingest/jsonl_reader.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"

namespace smetsmon::ingest {
namespace {

class ReplayTest : public ::testing::Test {
 protected:
  ReplayTest()
      : clock_(ProcessingTime{1700000000000}),
        pipeline_(testing::MakePipeline(testing::TestPipelineConfig(), clock_)),
        engine_(pipeline_->engine()) {}

  absl::StatusOr<uint64_t> Replay(const std::vector<std::string>& files, DeadLetterSink* sink) {
    ReplayOptions options;
    options.rejects = sink;
    return ReplayFiles(files, *pipeline_, clock_, options);
  }

  ManualClock clock_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  aggregate::Engine& engine_;
};

TEST_F(ReplayTest, SampleFileCountsMatchTheContract) {
  const std::string rejects_path = testing::TempPath("rejects.jsonl");
  auto sink = FileDeadLetterSink::Open(rejects_path);
  ASSERT_TRUE(sink.ok());
  auto lines = Replay({testing::SamplePath()}, sink->get());
  ASSERT_TRUE(lines.ok()) << lines.status();
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(*lines, 13u);
  const aggregate::CounterTotals c = engine_.Counters();
  EXPECT_EQ(c.accepted, 5u);
  EXPECT_EQ(c.duplicates, 1u);
  EXPECT_EQ(c.rejected_total(), 7u);
  EXPECT_EQ(c.late_24h, 0u);
  // Each rejected line is kept whole, with its reason, in the rejects file.
  const auto sample = testing::ReadLines(testing::SamplePath());
  const auto rejected = testing::ReadLines(rejects_path);
  ASSERT_EQ(rejected.size(), 7u);
  for (const std::string& r : rejected) {
    const size_t from = r.find("\"reason\":\"") + 10;
    const std::string reason = r.substr(from, r.find('"', from) - from);
    const size_t line_at = r.find("\"line\":") + 7;
    const size_t line_no = std::stoul(r.substr(line_at));
    ASSERT_GE(line_no, 1u);
    const std::string& original = sample[line_no - 1];
    EXPECT_NE(original.find("\"_expect\":\"" + reason + "\""), std::string::npos) << r;
    EXPECT_EQ(c.rejected[0], 0u);
  }
}

TEST_F(ReplayTest, ReadsGzipAndHandlesCrlfAndAMissingFinalNewline) {
  const std::string gz = testing::TempPath("events.jsonl.gz");
  const auto sample = testing::ReadLines(testing::SamplePath());
  std::string body;
  for (size_t i = 0; i < 6; ++i) body += sample[i] + (i % 2 ? "\r\n" : "\n");
  body.pop_back();  // no final newline
  gzFile f = gzopen(gz.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, body.data(), static_cast<unsigned>(body.size())),
            static_cast<int>(body.size()));
  gzclose(f);
  auto lines = Replay({gz}, nullptr);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines, 6u);
  EXPECT_EQ(engine_.Counters().accepted, 5u);
  EXPECT_EQ(engine_.Counters().duplicates, 1u);
  EXPECT_EQ(engine_.Counters().rejected_total(), 0u);
}

TEST_F(ReplayTest, LinesLongerThanTheBufferAreRejectedWholeAndTheStreamGoesOn) {
  const std::string path = testing::TempPath("long.jsonl");
  const auto sample = testing::ReadLines(testing::SamplePath());
  const std::string huge = R"({"pad":")" + std::string(6 << 20, 'x') + "\"}";
  testing::WriteFile(path, sample[0] + "\n" + huge + "\n" + sample[2] + "\n");
  const std::string rejects_path = testing::TempPath("rejects.jsonl");
  auto sink = FileDeadLetterSink::Open(rejects_path);
  auto lines = Replay({path}, sink->get());
  ASSERT_TRUE((*sink)->Close().ok());
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(*lines, 3u);
  EXPECT_EQ(engine_.Counters().accepted, 2u);
  EXPECT_EQ(engine_.Counters().rejected[static_cast<int>(RejectReason::kTooLarge)], 1u);
  const auto rejected = testing::ReadLines(rejects_path);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_GT(rejected[0].size(), huge.size());  // the whole line, escaped, plus the envelope
}

TEST_F(ReplayTest, MissingFileIsAnError) {
  auto lines = Replay({testing::TempPath("absent.jsonl")}, nullptr);
  EXPECT_EQ(lines.status().code(), absl::StatusCode::kNotFound);
}

// Every line of `path` through blocks of `target` bytes and at most `max_lines` lines, checking
// that each line lies in its block with `padding` readable bytes after it and that the block
// numbers its first line.
std::vector<std::string> ReadAll(const std::string& path, size_t target, size_t max_lines,
                                 size_t padding) {
  auto reader = JsonlReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return {};
  std::vector<std::string> got;
  LineBlock block;
  std::vector<std::string_view> lines;
  while ((*reader)->ReadBlock(target, max_lines, padding, &block, &lines)) {
    EXPECT_LE(lines.size(), max_lines);
    EXPECT_EQ(block.first_line, got.size() + 1);
    for (std::string_view line : lines) {
      EXPECT_GE(line.data(), block.bytes.get());
      EXPECT_LE(line.data() + line.size() + padding, block.padded_end());
      EXPECT_LE(block.padded_end(), block.bytes.get() + block.capacity);
      got.emplace_back(line);
    }
  }
  EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status();
  EXPECT_EQ((*reader)->line_number(), got.size());
  return got;
}

TEST(JsonlReaderTest, BlocksHoldWholeLinesWithTheirPaddingWhateverTheirSize) {
  const std::string path = testing::TempPath("pad.jsonl");
  const std::string long_line(10'000, 'x');  // longer than the smallest blocks below
  testing::WriteFile(path, "a\nbb\r\n\n" + long_line + "\nccc\r\n\nddd");
  const std::vector<std::string> expected = {"a", "bb", "", long_line, "ccc", "", "ddd"};
  for (size_t target : {1, 3, 64, 4096, 1 << 20}) {
    for (size_t max_lines : {1, 2, 4096}) {
      EXPECT_EQ(ReadAll(path, target, max_lines, 64), expected)
          << "target " << target << ", max_lines " << max_lines;
    }
  }
}

TEST(JsonlReaderTest, AGzipFileGivesTheSameLinesAsThePlainOne) {
  std::string body;
  std::vector<std::string> expected;
  for (int i = 0; i < 5000; ++i) {
    expected.push_back(std::string("{\"line\":") + std::to_string(i) + std::string(i % 97, ' ') +
                       "}");
    body += expected.back() + (i % 7 == 0 ? "\r\n" : "\n");
  }
  const std::string plain = testing::TempPath("lines.jsonl");
  testing::WriteFile(plain, body);
  const std::string gz = testing::TempPath("lines.jsonl.gz");
  gzFile f = gzopen(gz.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, body.data(), static_cast<unsigned>(body.size())),
            static_cast<int>(body.size()));
  gzclose(f);
  EXPECT_EQ(ReadAll(plain, 4096, 100, 64), expected);
  EXPECT_EQ(ReadAll(gz, 4096, 100, 64), expected);
  EXPECT_EQ(ReadAll(gz, 100, 4096, 64), expected);
}

TEST(JsonlReaderTest, AnEmptyFileHasNoLines) {
  const std::string path = testing::TempPath("empty.jsonl");
  testing::WriteFile(path, "");
  EXPECT_TRUE(ReadAll(path, 4096, 10, 64).empty());
}

}  // namespace
}  // namespace smetsmon::ingest
