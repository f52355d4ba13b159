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

TEST(JsonlReaderTest, EveryLineHasItsPaddingReadable) {
  const std::string path = testing::TempPath("pad.jsonl");
  testing::WriteFile(path, "a\nbb\n\nccc");
  auto reader = JsonlReader::Open(path, 64);
  ASSERT_TRUE(reader.ok());
  std::vector<std::string> got;
  std::string_view line;
  size_t capacity = 0;
  while ((*reader)->Next(&line, &capacity)) {
    got.emplace_back(line);
    EXPECT_GE(capacity, line.size() + 64);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a", "bb", "", "ccc"}));
  EXPECT_EQ((*reader)->line_number(), 4u);
}

}  // namespace
}  // namespace smetsmon::ingest
