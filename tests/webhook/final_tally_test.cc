// What a DNO receiver is told of a power outage whose figures go on counting after it closes
// (rules::Tally): the outage tracker's findings, published after each evaluation as the daemon
// does (every open finding as firing, every closed one as resolved), through the dispatcher to a
// loopback receiver. The receiver hears: firing when the outage opens, resolved with the figures
// at close when it closes, and exactly one more notification when the figures are final (status
// still resolved, figures_final "true", the final figures, a key of its own), nothing in
// between or after, and the same across a restart in the middle of the tally.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/binary_file.h"
#include "rules/finding.h"
#include "rules/outage.h"
#include "webhook/dispatcher.h"
#include "webhook/mini_json.h"
#include "webhook/payload.h"
#include "webhook/spool.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using rules::OutageSignal;
using testing::Reply;
using testing::TestReceiver;

constexpr int64_t kMin = kMsPerMinute;
constexpr int64_t kHour = kMsPerHour;
constexpr int64_t kT0 = 1'709'301'720'000;         // 2024-03-01T14:02:00Z (event time)
constexpr int64_t kEnd = kT0 + 10 * kMin;          // the close: the last restoration before it
constexpr int64_t kWallStart = 1'709'301'780'000;  // processing time of the first publication

uint64_t Premises(int i) { return 1'000'000'000'000ULL + static_cast<uint64_t>(i); }

// One receiver's view of a notification.
struct Heard {
  std::string status;         // firing / resolved
  bool final_tally = false;   // the top-level "finalTally"
  std::string figures_final;  // the annotation ("" when absent)
  std::string restored;       // restored_premises annotation
  std::string after_close;    // restored_after_close annotation
  std::string key;
};

class FinalTallyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spool_dir_ = testing::FreshDir("final-tally-spool");
    ASSERT_TRUE(receiver_.Start());
    eastern_ = areas_.ByDistributorId(10);
  }

  WebhookConfig Config() {
    WebhookConfig c;
    c.receivers = {testing::MakeReceiver("ukpn", receiver_.Url())};
    c.spool_dir = spool_dir_;
    return c;
  }
  std::unique_ptr<Dispatcher> MakeDispatcher() {
    auto d = Dispatcher::Create(Config(), areas_, clock_);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  void Signal(rules::OutageTracker& t, OutageSignal::Kind kind, int premises, int64_t ms) {
    OutageSignal s;
    s.premises = Premises(premises);
    s.area = eastern_;
    s.time = {ms};
    s.kind = kind;
    t.Add(s);
  }
  // 40 Eastern premises lose supply from kT0; 38 are back at kEnd: the outage opens at kT0 + 2
  // min and closes at 95 % restored, its tally counting for 24 h from kEnd.
  void Cut(rules::OutageTracker& t) {
    for (int i = 0; i < 40; ++i) Signal(t, OutageSignal::Kind::kStart, i, kT0 + i * 2000);
  }
  void Restore(rules::OutageTracker& t) {
    for (int i = 0; i < 38; ++i) Signal(t, OutageSignal::Kind::kRestored, i, kEnd);
  }

  // An evaluation at `now` (event time), then what the daemon publishes to the dispatcher, then
  // delivery. Returns the notifications spooled.
  size_t EvaluateAndPublish(rules::OutageTracker& t, int64_t now, Dispatcher& d) {
    t.Evaluate({now}, book_);
    size_t spooled = 0;
    for (const rules::Finding& f : book_.Open()) spooled += *d.Enqueue(f, false);
    for (const rules::Finding& f : book_.closed()) spooled += *d.Enqueue(f, true);
    clock_.Advance(kMin);
    for (int i = 0; i < 100 && d.Pump() > 0; ++i) {
    }
    return spooled;
  }

  std::vector<Heard> HeardSoFar() const {
    std::vector<Heard> out;
    for (const auto& r : receiver_.requests()) {
      auto j = testing::JsonParser::Parse(r.body);
      if (!j) {
        ADD_FAILURE() << r.body;
        continue;
      }
      const testing::Json& annotations = (*j)["alerts"][0]["annotations"];
      Heard h;
      h.status = (*j)["status"].string;
      h.final_tally = j->Has("finalTally") && (*j)["finalTally"].boolean;
      if (annotations.Has("figures_final")) h.figures_final = annotations["figures_final"].string;
      if (annotations.Has("restored_premises"))
        h.restored = annotations["restored_premises"].string;
      if (annotations.Has("restored_after_close")) {
        h.after_close = annotations["restored_after_close"].string;
      }
      h.key = r.Header("idempotency-key");
      out.push_back(h);
    }
    return out;
  }

  std::string OutageId() const { return "power_outage:area=Eastern:" + std::to_string(kT0); }

  // The sequence every test expects: firing, resolved at close (38 restored, not final), the
  // final tally (39 restored, 1 after the close, final), each under its own key.
  void ExpectFiringResolvedFinal(const std::vector<Heard>& heard) {
    ASSERT_EQ(heard.size(), 3u);
    EXPECT_EQ(heard[0].status, "firing");
    EXPECT_EQ(heard[0].figures_final, "");
    EXPECT_EQ(heard[1].status, "resolved");
    EXPECT_FALSE(heard[1].final_tally);
    EXPECT_EQ(heard[1].figures_final, "false");
    EXPECT_EQ(heard[1].restored, "38");
    EXPECT_EQ(heard[1].after_close, "0");
    EXPECT_EQ(heard[2].status, "resolved");
    EXPECT_TRUE(heard[2].final_tally);
    EXPECT_EQ(heard[2].figures_final, "true");
    EXPECT_EQ(heard[2].restored, "39");
    EXPECT_EQ(heard[2].after_close, "1");
    EXPECT_EQ(heard[1].key,
              IdempotencyKey("ukpn", OutageId(), true, rules::Severity::kCritical, 0));
    EXPECT_EQ(heard[2].key, FinalTallyKey("ukpn", OutageId(), rules::Severity::kCritical));
    EXPECT_EQ(std::set<std::string>({heard[0].key, heard[1].key, heard[2].key}).size(), 3u);
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  ManualClock clock_{ProcessingTime{kWallStart}};
  std::string spool_dir_;
  TestReceiver receiver_;
  AreaId eastern_;
  rules::FindingBook book_;
};

TEST_F(FinalTallyTest, ResolvedWithTheFiguresAtCloseThenExactlyOneFinalUpdate) {
  rules::OutageTracker t(rules::OutageConfig{}, areas_, {});
  auto d = MakeDispatcher();
  Cut(t);
  EXPECT_EQ(EvaluateAndPublish(t, kT0 + 2 * kMin, *d), 1u);  // firing
  Restore(t);
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + kMin, *d), 1u);  // resolved, figures at close
  ASSERT_EQ(receiver_.count(), 2u);

  // Premises 38 back 5 hours later: the figures change, the receiver is not told yet.
  Signal(t, OutageSignal::Kind::kRestored, 38, kEnd + 5 * kHour);
  for (int64_t at = kEnd + 6 * kHour; at < kEnd + 24 * kHour; at += 3 * kHour) {
    EXPECT_EQ(EvaluateAndPublish(t, at, *d), 0u) << at;
  }
  EXPECT_EQ(receiver_.count(), 2u);
  // The tally ends: one final update; later evaluations send nothing.
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 24 * kHour, *d), 1u);
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 25 * kHour, *d), 0u);
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 48 * kHour, *d), 0u);
  ExpectFiringResolvedFinal(HeardSoFar());
  EXPECT_EQ(d->pending(), 0u);
  EXPECT_EQ(d->refires_ignored(), 0u);  // never re-opened
}

TEST_F(FinalTallyTest, ARestartInTheMiddleOfTheTallyNeitherRepeatsNorLosesTheFinalUpdate) {
  rules::OutageTracker t(rules::OutageConfig{}, areas_, {});
  auto d = MakeDispatcher();
  Cut(t);
  EvaluateAndPublish(t, kT0 + 2 * kMin, *d);
  Restore(t);
  EvaluateAndPublish(t, kEnd + kMin, *d);
  Signal(t, OutageSignal::Kind::kRestored, 38, kEnd + 2 * kHour);
  EvaluateAndPublish(t, kEnd + 3 * kHour, *d);
  ASSERT_EQ(receiver_.count(), 2u);

  // The daemon stops: the rules' checkpoint (tracker and findings) and the spool directory
  // (told.state) are what the next one starts from.
  BinaryWriter w = BinaryWriter::ToMemory();
  t.SaveState(w);
  book_.Save(w);
  const std::string state = w.TakeBytes();
  d.reset();

  rules::OutageTracker restored(rules::OutageConfig{}, areas_, {});
  book_ = rules::FindingBook();
  BinaryReader r = BinaryReader::FromMemory(state);
  ASSERT_TRUE(restored.LoadState(r).ok());
  ASSERT_TRUE(book_.Load(r, areas_.size()).ok());
  auto again = MakeDispatcher();
  EXPECT_EQ(EvaluateAndPublish(restored, kEnd + 4 * kHour, *again), 0u);  // told already
  EXPECT_EQ(EvaluateAndPublish(restored, kEnd + 24 * kHour, *again), 1u);
  EXPECT_EQ(EvaluateAndPublish(restored, kEnd + 26 * kHour, *again), 0u);
  ExpectFiringResolvedFinal(HeardSoFar());
}

TEST_F(FinalTallyTest, AResolvedStillSpooledAtACrashIsOwedItsFinalUpdate) {
  rules::OutageTracker t(rules::OutageConfig{}, areas_, {});
  auto d = MakeDispatcher();
  Cut(t);
  EvaluateAndPublish(t, kT0 + 2 * kMin, *d);
  // The receiver is down when the outage closes: the resolved notification stays in the spool.
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(503); });
  Restore(t);
  EvaluateAndPublish(t, kEnd + kMin, *d);
  ASSERT_EQ(d->pending(), 1u);
  // A crash right after spooling, before told.state was written: only the spool file says the
  // receiver is being told resolved while the figures count.
  d.reset();
  ASSERT_TRUE(std::filesystem::remove(spool_dir_ + "/" + kToldStateFile));
  receiver_.set_handler({});
  auto again = MakeDispatcher();
  ASSERT_EQ(again->pending(), 1u);
  Signal(t, OutageSignal::Kind::kRestored, 38, kEnd + 2 * kHour);
  clock_.Advance(kHour);                                           // past the backoff
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 3 * kHour, *again), 0u);  // the resolved goes out
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 24 * kHour, *again), 1u);
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 26 * kHour, *again), 0u);
  std::vector<Heard> heard = HeardSoFar();
  // The failed attempt (503) is recorded too: drop it.
  ASSERT_EQ(heard.size(), 4u);
  EXPECT_EQ(heard[1].key, heard[2].key);
  heard.erase(heard.begin() + 1);
  ExpectFiringResolvedFinal(heard);
}

TEST_F(FinalTallyTest, AReceiverDownThroughTheTallyGetsOnlyTheFinalResolution) {
  rules::OutageTracker t(rules::OutageConfig{}, areas_, {});
  auto d = MakeDispatcher();
  Cut(t);
  EvaluateAndPublish(t, kT0 + 2 * kMin, *d);
  receiver_.set_handler([](const testing::ReceivedRequest&) { return Reply::Status(503); });
  Restore(t);
  EvaluateAndPublish(t, kEnd + kMin, *d);
  Signal(t, OutageSignal::Kind::kRestored, 38, kEnd + 2 * kHour);
  EvaluateAndPublish(t, kEnd + 24 * kHour, *d);  // the final supersedes the undelivered resolved
  const size_t attempts = receiver_.count();
  receiver_.set_handler({});
  clock_.Advance(2 * kHour);
  EXPECT_EQ(EvaluateAndPublish(t, kEnd + 25 * kHour, *d), 0u);
  const std::vector<Heard> heard = HeardSoFar();
  ASSERT_EQ(heard.size(), attempts + 1);
  const Heard& last = heard.back();
  EXPECT_EQ(last.status, "resolved");
  EXPECT_TRUE(last.final_tally);
  EXPECT_EQ(last.figures_final, "true");
  EXPECT_EQ(last.restored, "39");
  EXPECT_EQ(last.key, FinalTallyKey("ukpn", OutageId(), rules::Severity::kCritical));
  EXPECT_EQ(d->pending(), 0u);
}

TEST(FinalTallyPayloadTest, AnnotationsSayWhetherTheFiguresAreFinalAndTheUpdateIsMarked) {
  const catalog::AreaTable areas = testing::LoadAreas();
  rules::Finding f = testing::AreaFinding(areas, "power_outage:area=Eastern:1709287200000", 10);
  // Open: no tally yet, no annotation.
  EXPECT_EQ(FindingAlert(f, areas).annotations.count("figures_final"), 0u);
  f.end = EventTime{1'709'287'800'000};  // 10:10Z
  f.tally = rules::Tally::kCounting;
  f.tally_until = EventTime{1'709'374'200'000};  // 24 h later
  AlertContent counting = FindingAlert(f, areas);
  EXPECT_EQ(counting.annotations["figures_final"], "false");
  EXPECT_EQ(counting.annotations["final_tally_at"], "2024-03-02T10:10:00Z");
  f.tally = rules::Tally::kFinal;
  EXPECT_EQ(FindingAlert(f, areas).annotations["figures_final"], "true");
  // Another closed finding without a tally: nothing added.
  rules::Finding storm = f;
  storm.tally = rules::Tally::kNone;
  storm.tally_until.reset();
  EXPECT_EQ(FindingAlert(storm, areas).annotations.count("figures_final"), 0u);

  const std::string resolved = BuildAlertmanagerPayload(f, true, "ukpn", "", areas, {});
  const std::string update = BuildAlertmanagerPayload(f, true, "ukpn", "", areas, {}, true);
  auto r = testing::JsonParser::Parse(resolved);
  auto u = testing::JsonParser::Parse(update);
  ASSERT_TRUE(r && u);
  EXPECT_FALSE(r->Has("finalTally"));
  EXPECT_TRUE((*u)["finalTally"].boolean);
  EXPECT_EQ((*u)["status"].string, "resolved");
  EXPECT_EQ((*u)["alerts"][0]["status"].string, "resolved");
  EXPECT_EQ((*u)["alerts"][0]["endsAt"].string, "2024-03-01T10:10:00Z");
}

TEST(FinalTallySpoolTest, TheTallyOfAResolvedNotificationSurvivesTheSpoolFile) {
  Notification n;
  n.receiver = "ukpn";
  n.finding_id = "power_outage:area=Eastern:1709287200000";
  n.resolved = true;
  n.counting = true;
  n.key = std::string(32, 'a');
  n.body = "{}";
  auto back = DecodeNotification(EncodeNotification(n));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->counting);
  EXPECT_FALSE(back->final_tally);
  n.counting = false;
  n.final_tally = true;
  back = DecodeNotification(EncodeNotification(n));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->counting);
  EXPECT_TRUE(back->final_tally);
  n.final_tally = false;
  back = DecodeNotification(EncodeNotification(n));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->counting || back->final_tally);  // no tally line: neither
  // A tally on a firing notification is not one the dispatcher writes.
  n.resolved = false;
  n.final_tally = true;
  EXPECT_TRUE(absl::IsDataLoss(DecodeNotification(EncodeNotification(n)).status()));
}

}  // namespace
}  // namespace smetsmon::webhook
