// Checkpoints: a replay cut in two around a checkpoint gives the report of one replay (every
// count and finding, the rules' state included); the input offsets come back; a corrupt,
// truncated or foreign checkpoint is refused without a crash; a failed write (disk full,
// read-only) is counted and keeps the previous checkpoint.
#include "pipeline/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ingest/replay.h"
#include "pipeline/pipeline.h"
#include "testing/fixtures.h"
#include "testing/pipeline.h"

namespace smetsmon::pipeline {
namespace {

constexpr int64_t kT0 = 1687780800000;  // 2023-06-26T12:00:00Z
const ProcessingTime kNow{kT0 + kMsPerDay};

std::string Alert(int device, int64_t t_ms, int serial) {
  return absl::StrFormat(
      R"({"alert_id":"a-%d-%d","device_id":"00-DB-12-34-56-78-%02X-%02X","alert_code":"8F40",)"
      R"("event_time":%d,"dcc_time":%d,"smets":2,"gsp_group":"_C"})",
      device, serial, (device >> 8) & 0xFF, device & 0xFF, t_ms, t_ms + 2000);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class CheckpointTest : public ::testing::Test {
 protected:
  PipelineConfig Config(const std::string& path, bool rules = true) {
    PipelineConfig c = testing::TestPipelineConfig(rules);
    c.engine.workers = 2;
    // Tables for a few hundred alerts, not the nation: a checkpoint writes the whole duplicate
    // filter (384 MiB at its default), which under TSan took minutes per test.
    c.engine.dedup_capacity = size_t{1} << 16;
    c.engine.expected_devices = 4096;
    c.checkpoint_path = path;
    return c;
  }
  // A fixture of tests/pipeline/data (`name`.gz) unpacked into the test's temporary directory as
  // `as`; its path, "" when gzip failed.
  static std::string Unpacked(const std::string& name, const std::string& as) {
    const std::string to = testing::TempPath(as);
    const std::string from = std::string(SMETSMON_SOURCE_DIR) + "/tests/pipeline/data/" + name;
    return testing::RunCommand("gzip -dc " + from + ".gz > " + to).exit_code == 0 ? to : "";
  }
  // Applies `n` alerts (each a new alert id), minutes apart, and reaps them.
  void Feed(Pipeline& p, int from, int n) {
    std::vector<std::string> lines;
    for (int i = from; i < from + n; ++i) lines.push_back(Alert(i % 40, kT0 + i * 20'000, i));
    p.Submit(std::make_unique<testing::OwnedBatch>(kNow, std::move(lines)));
    p.Reap(/*wait=*/true, nullptr);
  }
  ManualClock clock_{kNow};
};

TEST_F(CheckpointTest, ARestoredPipelineHasTheStateAndTheOffsetsItWasTakenWith) {
  const std::string path = testing::TempPath("restore.ckpt");
  std::filesystem::remove(path);
  auto a = testing::MakePipeline(Config(path), clock_);
  ASSERT_NE(a, nullptr);
  Feed(*a, 0, 500);
  const std::vector<SourceOffset> offsets = {{"smets.alerts", 0, 1234}, {"smets.alerts", 3, 77}};
  const CheckpointOutcome out = a->Checkpoint(offsets);
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_EQ(out.bytes, std::filesystem::file_size(path));
  EXPECT_GE(out.duration_s, out.stall_s);
  const CheckpointStats stats = a->checkpoint_stats();
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.last_success_unix_ms, kNow.ms);
  EXPECT_EQ(stats.last_bytes, out.bytes);

  auto b = testing::MakePipeline(Config(path), clock_);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->checkpoint_stats().restored);
  EXPECT_EQ(b->restored_offsets(), offsets);
  EXPECT_EQ(b->stream_time(), a->stream_time());
  const aggregate::CounterTotals ca = a->engine().Counters(), cb = b->engine().Counters();
  EXPECT_EQ(cb.accepted, ca.accepted);
  EXPECT_EQ(cb.accepted, 500u);
  EXPECT_EQ(cb.devices, ca.devices);
  EXPECT_EQ(b->engine().Totals(), a->engine().Totals());
  // The same alert again after the restart is a duplicate: the dedup filter came back.
  Feed(*b, 499, 1);
  EXPECT_EQ(b->engine().Counters().duplicates, 1u);
}

TEST_F(CheckpointTest, ACorruptTruncatedOrForeignCheckpointIsRefusedAndTheDaemonStartsAfresh) {
  const std::string path = testing::TempPath("bad.ckpt");
  std::filesystem::remove(path);
  {
    auto a = testing::MakePipeline(Config(path), clock_);
    ASSERT_NE(a, nullptr);
    Feed(*a, 0, 300);
    ASSERT_TRUE(a->Checkpoint({{"smets.alerts", 0, 300}}).status.ok());
  }
  const std::string good = ReadAll(path);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x5A;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"flipped byte", flipped},
      {"truncated", good.substr(0, good.size() * 2 / 3)},
      {"foreign", "PK\x03\x04 this is a zip file, not a checkpoint"},
      {"empty", ""}};
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    std::filesystem::remove(path + ".refused");
    testing::WriteFile(path, bytes);
    // A replay asked for this file: an error, not a silent fresh start.
    PipelineConfig required = Config(path);
    required.checkpoint_required = true;
    const auto refused = Pipeline::Create(required, clock_);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
    // The daemon: refused, kept aside for inspection, counted, and a fresh start.
    auto b = testing::MakePipeline(Config(path), clock_);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->checkpoint_stats().restore_refused, 1u);
    EXPECT_FALSE(b->checkpoint_stats().restored);
    EXPECT_TRUE(b->restored_offsets().empty());
    EXPECT_EQ(b->engine().Counters().accepted, 0u);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_EQ(ReadAll(path + ".refused"), bytes);
    // ...and it goes on working: ingests and checkpoints again.
    Feed(*b, 0, 10);
    EXPECT_TRUE(b->Checkpoint({}).status.ok());
    EXPECT_EQ(b->engine().Counters().accepted, 10u);
  }
}

TEST_F(CheckpointTest, ARestartUnderAnotherRulesFileAndCatalogueKeepsWhatStillFits) {
  const std::string path = testing::TempPath("reconfigured.ckpt");
  std::filesystem::remove(path);
  {
    auto a = testing::MakePipeline(Config(path), clock_);
    ASSERT_NE(a, nullptr);
    Feed(*a, 0, 400);
    ASSERT_TRUE(a->Checkpoint({{"smets.alerts", 0, 400}}).status.ok());
  }
  // Another storm factor in rules.yaml, a new code listed first in the catalogue (every slot
  // moves).
  const std::string dir = testing::TempPath("reconfigured_config");
  std::filesystem::remove_all(dir);
  std::filesystem::copy(testing::ConfigDir(), dir, std::filesystem::copy_options::recursive);
  std::string rules = ReadAll(dir + "/rules.yaml");
  const size_t factor = rules.find("factor: 3.0");
  ASSERT_NE(factor, std::string::npos);
  rules.replace(factor, 11, "factor: 4.0");
  testing::WriteFile(dir + "/rules.yaml", rules);
  std::string catalogue = ReadAll(dir + "/alert_catalogue.yaml");
  catalogue.insert(catalogue.find("alerts:\n") + 8,
                   "  - {code: \"8F99\", name: New, category: firmware}\n");
  testing::WriteFile(dir + "/alert_catalogue.yaml", catalogue);
  PipelineConfig c = Config(path);
  c.reference.config_dir = dir;
  auto b = testing::MakePipeline(c, clock_);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->checkpoint_stats().restored);
  EXPECT_EQ(b->checkpoint_stats().restore_refused, 0u);
  EXPECT_EQ(b->engine().Counters().accepted, 400u);
  uint64_t total = 0;
  for (uint64_t v : b->engine().Totals()) total += v;
  EXPECT_EQ(total, 400u);  // every alert still counted, under its code's new slot
  Feed(*b, 400, 10);
  EXPECT_EQ(b->engine().Counters().accepted, 410u);
}

TEST_F(CheckpointTest, AVersion3SnapshotStillLoads) {
  // Written by the last build that wrote version 3 (tests/pipeline/data/README.md).
  const std::string snapshot = Unpacked("snapshot_v3.snap", "v3.snap");
  const std::string input = Unpacked("snapshot_v3_input.jsonl", "v3_input.jsonl");
  ASSERT_FALSE(snapshot.empty());
  ASSERT_FALSE(input.empty());
  PipelineConfig c = Config(snapshot);
  c.engine.workers = 1;
  c.engine.dedup_capacity = 4096;
  c.checkpoint_required = true;
  auto restored = testing::MakePipeline(c, clock_);
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(restored->checkpoint_stats().restored);
  // The same input replayed by this build: the same counts and totals.
  c.checkpoint_path.clear();
  auto replayed = testing::MakePipeline(c, clock_);
  ASSERT_NE(replayed, nullptr);
  ASSERT_TRUE(ingest::ReplayFiles({input}, *replayed, clock_, {}).ok());
  const aggregate::CounterTotals a = restored->engine().Counters(),
                                 b = replayed->engine().Counters();
  EXPECT_GT(a.accepted, 9000u);
  EXPECT_EQ(a.accepted, b.accepted);
  EXPECT_EQ(a.duplicates, b.duplicates);
  EXPECT_EQ(a.rejected_total(), b.rejected_total());
  EXPECT_EQ(a.devices, b.devices);
  EXPECT_EQ(restored->engine().Totals(), replayed->engine().Totals());
  EXPECT_EQ(restored->stream_time(), replayed->stream_time());
}

TEST_F(CheckpointTest, AVersion5CheckpointStillLoadsAndItsNoisyTableIsConverted) {
  // Written by the last build that wrote version 5 (tests/pipeline/data/README.md), with
  // noisy_devices.threshold_24h: 10 so that its noisy table holds devices.
  const std::string snapshot = Unpacked("snapshot_v5.snap", "v5.snap");
  const std::string input = Unpacked("snapshot_v3_input.jsonl", "v5_input.jsonl");
  const std::string config_dir = testing::TempPath("v5_config");
  ASSERT_FALSE(snapshot.empty());
  ASSERT_FALSE(input.empty());
  std::filesystem::remove_all(config_dir);
  std::filesystem::copy(testing::ConfigDir(), config_dir);
  const std::string rules_yaml = ReadAll(config_dir + "/rules.yaml");
  const std::string edited =
      std::regex_replace(rules_yaml, std::regex("threshold_24h: 100"), "threshold_24h: 10");
  ASSERT_NE(edited, rules_yaml);
  std::ofstream(config_dir + "/rules.yaml") << edited;

  PipelineConfig c = Config(snapshot);
  c.reference.config_dir = config_dir;
  c.engine.workers = 1;
  c.engine.dedup_capacity = 4096;
  // The engine's part must load; the rules evaluator's state of that build may be refused (its
  // own format version), and the rules then start afresh.
  c.checkpoint_required = false;
  auto restored = testing::MakePipeline(c, clock_);
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(restored->checkpoint_stats().restored);
  c.checkpoint_path.clear();
  auto replayed = testing::MakePipeline(c, clock_);
  ASSERT_NE(replayed, nullptr);
  ASSERT_TRUE(ingest::ReplayFiles({input}, *replayed, clock_, {}).ok());
  EXPECT_EQ(restored->engine().Counters().accepted, replayed->engine().Counters().accepted);
  EXPECT_EQ(restored->engine().Totals(), replayed->engine().Totals());
  ASSERT_EQ(restored->stream_time(), replayed->stream_time());

  // The same noisy devices with the same counts. The old table knew no times for its codes:
  // every alert so far is untracked there; the replay, counting from the mark, knows them.
  restored->Stop();
  replayed->Stop();
  const EventTime at = restored->stream_time();
  const std::vector<aggregate::NoisyDevice> a = restored->engine().Read(at, at, 0).noisy;
  const std::vector<aggregate::NoisyDevice> b = replayed->engine().Read(at, at, 0).noisy;
  ASSERT_GT(a.size(), 10u);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].device, b[i].device);
    EXPECT_EQ(a[i].alerts_24h, b[i].alerts_24h);
    EXPECT_EQ(a[i].untracked, a[i].alerts_24h);
    EXPECT_EQ(b[i].code_count[0] + b[i].code_count[1] + b[i].code_count[2] + b[i].other_count +
                  b[i].untracked,
              b[i].alerts_24h);
    EXPECT_LT(b[i].untracked, b[i].alerts_24h);
  }
}

// A small tmpfs: filled up, then remounted read-only.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(const std::string& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=256m") == 0;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  // Writes a file until the filesystem is full.
  void Fill() {
    std::FILE* f = std::fopen((dir_ + "/filler").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string chunk(1 << 16, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
    }
    std::fclose(f);
  }
  bool RemountReadOnly() {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=256m") == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST_F(CheckpointTest, AFailedWriteIsCountedByReasonAndKeepsThePreviousCheckpoint) {
  const std::string dir = testing::TempPath("small_fs");
  SmallFilesystem fs(dir);
  // Mounting needs CAP_SYS_ADMIN, which this project's machines and CI have (they run as root).
  ASSERT_TRUE(fs.mounted()) << "cannot mount a tmpfs on " << dir << ": " << std::strerror(errno);
  const std::string path = dir + "/state.ckpt";
  auto p = testing::MakePipeline(Config(path), clock_);
  ASSERT_NE(p, nullptr);
  Feed(*p, 0, 100);
  ASSERT_TRUE(p->Checkpoint({{"smets.alerts", 0, 100}}).status.ok());
  const std::string first = ReadAll(path);

  fs.Fill();
  Feed(*p, 100, 100);
  const CheckpointOutcome full = p->Checkpoint({{"smets.alerts", 0, 200}});
  EXPECT_FALSE(full.status.ok());
  EXPECT_EQ(p->checkpoint_stats().failures["no_space"], 1u) << full.status;
  EXPECT_EQ(ReadAll(path), first);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  ASSERT_TRUE(fs.RemountReadOnly()) << std::strerror(errno);
  const CheckpointOutcome ro = p->Checkpoint({{"smets.alerts", 0, 200}});
  EXPECT_FALSE(ro.status.ok());
  EXPECT_EQ(p->checkpoint_stats().failures["read_only"], 1u) << ro.status;
  EXPECT_EQ(p->checkpoint_stats().written, 1u);
  // Ingestion never stopped: the pipeline still applies.
  Feed(*p, 200, 50);
  EXPECT_EQ(p->engine().Counters().accepted, 250u);
  // The previous checkpoint still restores, with its offsets.
  auto restored = testing::MakePipeline(Config(path), clock_);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->engine().Counters().accepted, 100u);
  EXPECT_EQ(restored->restored_offsets(), (std::vector<SourceOffset>{{"smets.alerts", 0, 100}}));
}

// Report JSON without what differs between runs by nature: lines read in this run, time taken.
std::string Comparable(std::string report) {
  report = std::regex_replace(report, std::regex(R"("lines_read":\d+,?)"), "");
  report = std::regex_replace(report, std::regex(R"("seconds":[0-9.e+-]+,?)"), "");
  report = std::regex_replace(report, std::regex(R"("lines_per_second":[0-9.e+-]+,?)"), "");
  return report;
}

TEST(CheckpointReplayTest, AReplayCutInTwoAroundACheckpointGivesTheReportOfOneReplay) {
  const std::string day = testing::TempPath("ck_day.jsonl");
  const std::string inventory = testing::TempPath("ck_inventory.csv");
  const auto gen = testing::RunCommand(std::string(SMETSMON_BINARY) + " generate --out " + day +
                                       " --inventory-out " + inventory + " --config " +
                                       testing::ConfigDir() + " --premises 30000 --hours 30 2>&1");
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  // Cut at 60 % of the lines (inside the day's scenarios: findings are open at the cut).
  std::vector<std::string> lines;
  {
    std::ifstream in(day);
    for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  }
  ASSERT_GT(lines.size(), 10000u);
  const std::string part1 = testing::TempPath("ck_part1.jsonl");
  const std::string part2 = testing::TempPath("ck_part2.jsonl");
  {
    std::ofstream a(part1), b(part2);
    for (size_t i = 0; i < lines.size(); ++i)
      (i < lines.size() * 6 / 10 ? a : b) << lines[i] << '\n';
  }
  const std::string ckpt = testing::TempPath("ck_cut.ckpt");
  std::filesystem::remove(ckpt);
  const std::string common = absl::StrCat(" --config ", testing::ConfigDir(), " --inventory ",
                                          inventory, " --no-progress --workers 2");
  const auto whole = testing::RunCommand(absl::StrCat(SMETSMON_BINARY, " replay ", day, common,
                                                      " --report json 2>/dev/null | tail -1"));
  ASSERT_EQ(whole.exit_code, 0);
  const auto first = testing::RunCommand(
      absl::StrCat(SMETSMON_BINARY, " replay ", part1, common, " --snapshot-out ", ckpt, " 2>&1"));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const auto second = testing::RunCommand(absl::StrCat(SMETSMON_BINARY, " replay ", part2, common,
                                                       " --snapshot-in ", ckpt,
                                                       " --report json 2>/dev/null | tail -1"));
  ASSERT_EQ(second.exit_code, 0);
  ASSERT_NE(whole.out.find("\"power_outage\""), std::string::npos) << whole.out.substr(0, 400);
  EXPECT_EQ(Comparable(second.out), Comparable(whole.out));
  // Restarted with another number of workers, the report is the same: the checkpoint's partials
  // are regrouped, its devices and rules' inputs go to their new owners.
  for (int workers : {1, 4}) {
    const auto regrouped = testing::RunCommand(
        absl::StrCat(SMETSMON_BINARY, " replay ", part2, " --config ", testing::ConfigDir(),
                     " --inventory ", inventory, " --no-progress --workers ", workers,
                     " --snapshot-in ", ckpt, " --report json 2>/dev/null | tail -1"));
    ASSERT_EQ(regrouped.exit_code, 0) << workers;
    EXPECT_EQ(Comparable(regrouped.out), Comparable(whole.out)) << workers;
  }
}

}  // namespace
}  // namespace smetsmon::pipeline
