// Noisy devices: "more than threshold_24h alerts in 24 h" everywhere (exactly the threshold is not
// noisy), and a noisy device's alerts by code over the same 24 hourly buckets as its count, exact
// (its codes are counted from the low mark, seeded from what its state kept), with what is not
// known reported as untracked, never guessed; counts leave the window hour by hour; throttled
// alerts count with their weight; the tables are bounded and count what they turn away; the
// tallies survive a checkpoint, and a malformed one is refused without a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aggregate/engine.h"
#include "aggregate/virtual_shard.h"
#include "base/binary_file.h"
#include "base/fields.h"
#include "rules/evaluator.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"
#include "testing/rules_engine.h"

namespace smetsmon::rules {
namespace {

constexpr int64_t kT0 = 1687737600000;  // 2023-06-26T00:00:00Z

struct Sent {
  uint64_t device;
  std::string code;
  int64_t t;
  uint32_t n;
};

class NoisyDevicesTest : public ::testing::Test {
 protected:
  NoisyDevicesTest() : ref_(testing::LoadTestReference()), config_(testing::ShippedRules(ref_)) {}

  void Start(size_t workers = 2, size_t signal_capacity = 0) {
    setup_ = testing::RuleInputsFor(ref_, config_);
    if (signal_capacity != 0) setup_.signal_capacity = signal_capacity;
    engine_ = MakeEngine(ref_, workers);
    auto ev = Evaluator::Create(*engine_, config_);
    ASSERT_TRUE(ev.ok()) << ev.status();
    evaluator_ = *std::move(ev);
    sent_.clear();
  }
  std::unique_ptr<aggregate::Engine> MakeEngine(catalog::ReferenceData& ref, size_t workers,
                                                bool rules = true) {
    return testing::SmallEngine(ref, workers, rules ? &setup_ : nullptr);
  }

  AlertEvent Event(uint64_t device, const char* code, int64_t t, uint32_t n = 1) {
    AlertEvent e;
    e.device = DeviceId{device};
    e.alert_fingerprint = ++next_id_ * 0x9E3779B97F4A7C15ULL;
    e.event_time = EventTime{t};
    e.code = *ParseAlertCode(code);
    e.generation = Generation::kSmets1;
    e.throttled_count = n;
    e.present = AlertEvent::kHasSmets | AlertEvent::kHasArea;
    e.area = ref_.areas->ByGspGroup('C');  // London
    return e;
  }
  void Send(uint64_t device, const char* code, int64_t t, uint32_t n = 1) {
    const AlertEvent e = Event(device, code, t, n);
    engine_->WorkerFor(e.device).Apply(e);
    sent_.push_back({device, code, t, n});
  }
  // The published noisy devices with every worker's stream time at `t`.
  std::vector<aggregate::NoisyDevice> NoisyAt(aggregate::Engine& engine, int64_t t) {
    for (size_t w = 0; w < engine.worker_count(); ++w) engine.worker(w).AdvanceTo(EventTime{t});
    return engine.Read(EventTime{t}, EventTime{t}, 0).noisy;
  }
  const aggregate::NoisyDevice* Find(const std::vector<aggregate::NoisyDevice>& list,
                                     uint64_t device) {
    for (const auto& d : list) {
      if (d.device == device) return &d;
    }
    return nullptr;
  }
  // What was sent for `device` in the 24 hourly buckets ending with the hour of `now`, by code.
  std::map<std::string, uint32_t> Expected(uint64_t device, int64_t now) {
    std::map<std::string, uint32_t> out;
    const int64_t now_hour = now / kMsPerHour;
    for (const Sent& s : sent_) {
      const int64_t h = s.t / kMsPerHour;
      if (s.device == device && h > now_hour - 24 && h <= now_hour) out[s.code] += s.n;
    }
    return out;
  }
  // The row's codes are the expected ones, most first, the rest in other_codes, nothing
  // untracked, and they sum to its count.
  void ExpectExact(const aggregate::NoisyDevice& d, const std::map<std::string, uint32_t>& want) {
    std::vector<std::pair<uint32_t, std::string>> ranked;  // (count, code): most first, then code
    uint32_t total = 0;
    for (const auto& [code, n] : want) {
      ranked.emplace_back(n, code);
      total += n;
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    EXPECT_EQ(d.alerts_24h, total);
    EXPECT_EQ(d.untracked, 0u);
    uint32_t other = 0;
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (i < aggregate::NoisyDevice::kTopCodes) {
        EXPECT_EQ(FormatAlertCode(AlertCode{d.code[i]}), ranked[i].second) << "rank " << i;
        EXPECT_EQ(d.code_count[i], ranked[i].first) << ranked[i].second;
      } else {
        other += ranked[i].first;
      }
    }
    EXPECT_EQ(d.other_count, other);
  }

  catalog::ReferenceData ref_;
  RulesConfig config_;
  aggregate::RuleInputsSetup setup_;
  std::unique_ptr<aggregate::Engine> engine_;
  std::unique_ptr<Evaluator> evaluator_;
  std::vector<Sent> sent_;
  uint64_t next_id_ = 0;
};

TEST_F(NoisyDevicesTest, ExactlyTheThresholdIsNotNoisyOneMoreIs) {
  ASSERT_EQ(config_.noisy_threshold_24h, 100u);
  Start();
  const uint32_t threshold = config_.noisy_threshold_24h;
  for (uint32_t i = 0; i < threshold; ++i) Send(1, "8F40", kT0 + i * 30'000);
  for (uint32_t i = 0; i < threshold + 1; ++i) Send(2, "8F40", kT0 + i * 30'000);
  const int64_t now = kT0 + 2 * kMsPerHour;
  const auto noisy = NoisyAt(*engine_, now);
  ASSERT_EQ(noisy.size(), 1u);
  EXPECT_EQ(noisy[0].device, 2u);
  EXPECT_EQ(noisy[0].alerts_24h, threshold + 1);

  evaluator_->Tick(EventTime{now}, /*force=*/true);
  const RulesSnapshot s = evaluator_->Snapshot();
  EXPECT_EQ(s.noisy_devices, 1u);
  EXPECT_EQ(s.noisy_smets1_devices, 1u);
  ASSERT_EQ(s.noisy_top.size(), 1u);
  EXPECT_EQ(s.noisy_top[0].device_id, FormatDeviceId(DeviceId{2}));
  const Finding* finding = nullptr;
  for (const Finding& f : s.open_findings) {
    if (f.kind == FindingKind::kNoisyDevices) finding = &f;
  }
  ASSERT_NE(finding, nullptr);
  EXPECT_NE(finding->explanation.find("1 devices in London raised more than 100 alerts"),
            std::string::npos)
      << finding->explanation;
  bool criterion_seen = false;
  for (const CriterionResult& c : s.gonogo.criteria) {
    if (c.metric != "noisy_smets1_devices") continue;
    criterion_seen = true;
    EXPECT_EQ(c.value, 1.0);
    EXPECT_NE(c.detail.find("more than 100"), std::string::npos) << c.detail;
  }
  EXPECT_TRUE(criterion_seen);
}

TEST_F(NoisyDevicesTest, CodesAreExactWhenTheyChangeBeforeAndAfterCrossing) {
  Start();
  const uint64_t dev = 10;
  int64_t t = kT0;
  const auto send = [&](const char* code, int count) {
    for (int i = 0; i < count; ++i) Send(dev, code, t += 40'000);
  };
  // Before the threshold: 8014 first (the alerts the old tally never saw), then 8F40.
  send("8014", 2);
  send("8F40", 60);
  send("8014", 25);
  send("8002", 10);  // 97 so far
  send("8F40", 10);  // crosses
  send("8014", 6);
  // Two more codes than are counted by name: they are exact as "other".
  send("8003", 3);
  send("8004", 2);
  send("8005", 1);
  const auto noisy = NoisyAt(*engine_, t);
  const aggregate::NoisyDevice* d = Find(noisy, dev);
  ASSERT_NE(d, nullptr);
  const auto want = Expected(dev, t);
  EXPECT_EQ(want.at("8014"), 33u);  // the scenario itself, not the engine
  ExpectExact(*d, want);
  // The API shows the same for the device (its owner's view).
  const aggregate::Worker& owner = engine_->WorkerFor(DeviceId{dev});
  const auto codes =
      owner.rule_inputs()->CodesOf(dev, *engine_->FindDevice(DeviceId{dev}), EventTime{t});
  ASSERT_TRUE(codes.has_value());
  ExpectExact(*codes, want);
  // The rules' row carries them, with other and untracked.
  evaluator_->Tick(EventTime{t}, /*force=*/true);
  const RulesSnapshot s = evaluator_->Snapshot();
  ASSERT_EQ(s.noisy_top.size(), 1u);
  ASSERT_EQ(s.noisy_top[0].top_codes.size(), 3u);
  EXPECT_EQ(s.noisy_top[0].top_codes[0], std::make_pair(std::string("8F40"), 70u));
  EXPECT_EQ(s.noisy_top[0].top_codes[1], std::make_pair(std::string("8014"), 33u));
  EXPECT_EQ(s.noisy_top[0].top_codes[2], std::make_pair(std::string("8002"), 10u));
  EXPECT_EQ(s.noisy_top[0].other_codes, 3u + 2u + 1u);  // 8003, 8004, 8005
  EXPECT_EQ(s.noisy_top[0].untracked, 0u);
}

TEST_F(NoisyDevicesTest, CountsLeaveTheWindowHourByHour) {
  Start();
  const uint64_t dev = 20;
  for (int h = 0; h < 30; ++h) {
    const int64_t hour = kT0 + h * kMsPerHour;
    if (h < 6) {
      for (int i = 0; i < 10; ++i) Send(dev, "8014", hour + i * 60'000);
    }
    if (h >= 3) {
      for (int i = 0; i < 6; ++i) Send(dev, "8F40", hour + 30 * 60'000 + i * 60'000);
    }
    if (h != 20 && h != 26 && h != 29) continue;
    const int64_t now = hour + 59 * 60'000;
    const auto noisy = NoisyAt(*engine_, now);
    const aggregate::NoisyDevice* d = Find(noisy, dev);
    ASSERT_NE(d, nullptr) << "hour " << h;
    SCOPED_TRACE(h);
    ExpectExact(*d, Expected(dev, now));
  }
  // Hour 29: the 8014s have all left the window.
  EXPECT_EQ(Expected(dev, kT0 + 29 * kMsPerHour).count("8014"), 0u);
  // Hour 40: 13 hours of 6 are left, not over the threshold; hour 54: nothing left, the device
  // is no longer counted at all.
  EXPECT_EQ(Find(NoisyAt(*engine_, kT0 + 40 * kMsPerHour), dev), nullptr);
  const aggregate::RuleInputs* inputs = engine_->WorkerFor(DeviceId{dev}).rule_inputs();
  EXPECT_EQ(inputs->tracked_devices(), 1u);
  NoisyAt(*engine_, kT0 + 54 * kMsPerHour);
  EXPECT_EQ(inputs->tracked_devices(), 0u);
}

TEST_F(NoisyDevicesTest, ThrottledAlertsCountWithTheirWeight) {
  Start();
  const uint64_t dev = 30;
  int64_t t = kT0;
  Send(dev, "8014", t += 60'000, 2);  // one message standing for 2 alerts, below the mark
  Send(dev, "8F40", t += 60'000);     // reaches the mark: the 8014 message is the only earlier
  Send(dev, "8002", t += 60'000, 40);
  for (int i = 0; i < 60; ++i) Send(dev, "8F40", t += 60'000);
  Send(dev, "8014", t += 60'000, 7);
  const auto noisy = NoisyAt(*engine_, t);
  const aggregate::NoisyDevice* d = Find(noisy, dev);
  ASSERT_NE(d, nullptr);
  ExpectExact(*d, Expected(dev, t));
  EXPECT_EQ(d->alerts_24h, 2u + 1u + 40u + 60u + 7u);
}

TEST_F(NoisyDevicesTest, WhatTheStateDidNotKeepIsUntrackedNeverGuessed) {
  config_.noisy_threshold_24h = 20;
  config_.noisy_track_codes_from = 10;
  Start();
  const uint64_t dev = 40;
  int64_t t = kT0;
  const int before_mark = 5;
  for (int i = 0; i < before_mark; ++i) Send(dev, "8014", t += 60'000);
  Send(dev, "8F40", t += 60'000, 5);  // the count reaches 10 with this one
  for (int i = 0; i < 15; ++i) Send(dev, "8F40", t += 60'000);
  const auto noisy = NoisyAt(*engine_, t);
  const aggregate::NoisyDevice* d = Find(noisy, dev);
  ASSERT_NE(d, nullptr);
  // The device state keeps its last two alerts: of the five 8014s before the mark, two are
  // known, three are not.
  const uint32_t kept = 2;
  EXPECT_EQ(d->alerts_24h, before_mark + 5u + 15u);
  EXPECT_EQ(FormatAlertCode(AlertCode{d->code[0]}), "8F40");
  EXPECT_EQ(d->code_count[0], 20u);
  EXPECT_EQ(FormatAlertCode(AlertCode{d->code[1]}), "8014");
  EXPECT_EQ(d->code_count[1], kept);
  EXPECT_EQ(d->untracked, before_mark - kept);
  EXPECT_EQ(d->code_count[0] + d->code_count[1] + d->code_count[2] + d->other_count + d->untracked,
            d->alerts_24h);
}

TEST_F(NoisyDevicesTest, TheTablesAreBoundedPerShardAndCountWhatTheyTurnAway) {
  config_.noisy_threshold_24h = 20;
  config_.noisy_track_codes_from = 3;
  // Fleet-wide capacities of one device per virtual shard.
  config_.noisy_track_capacity = aggregate::kVirtualShards;
  config_.noisy_capacity = aggregate::kVirtualShards;
  Start(/*workers=*/1);
  const aggregate::RuleInputs* inputs = engine_->worker(0).rule_inputs();
  const auto shard = [](uint64_t dev) { return aggregate::VirtualShardOf(DeviceId{dev}); };
  // 200 quiet devices of 5 alerts: the first of each shard is tracked; the others are turned
  // away at each of their alerts from the mark on (the 3rd, 4th and 5th).
  std::set<size_t> quiet_shards;
  for (uint64_t dev = 100; dev < 300; ++dev) {
    for (int i = 0; i < 5; ++i) Send(dev, "8014", kT0 + i * 60'000);
    quiet_shards.insert(shard(dev));
  }
  ASSERT_LT(quiet_shards.size(), 200u);  // some shards were asked for more than their quota
  EXPECT_EQ(inputs->tracked_devices(), quiet_shards.size());
  EXPECT_EQ(inputs->codes_untracked(), (200 - quiet_shards.size()) * (5 - 3 + 1));
  // A device crossing the threshold while its shard's tracking quota is full is still listed:
  // its codes from its crossing (that alert and the two its state kept), the rest untracked.
  const uint32_t threshold = config_.noisy_threshold_24h;
  uint64_t crossing = 1000;
  while (quiet_shards.count(shard(crossing)) == 0) ++crossing;
  for (uint32_t i = 0; i < 30; ++i) Send(crossing, "8F40", kT0 + i * 60'000);
  // 100 more noisy devices, one after the other: the first of each shard is listed.
  std::set<size_t> noisy_shards = {shard(crossing)};
  uint64_t turned_away = 0;
  for (uint64_t dev = 2000; dev < 2100; ++dev) {
    for (uint32_t i = 0; i < 25; ++i) Send(dev, "8F40", kT0 + i * 60'000);
    if (!noisy_shards.insert(shard(dev)).second) turned_away += 25 - threshold;
  }
  const int64_t now = kT0 + 40 * 60'000;
  const auto noisy = NoisyAt(*engine_, now);
  EXPECT_EQ(noisy.size(), noisy_shards.size());
  for (const aggregate::NoisyDevice& listed : noisy) {
    EXPECT_EQ(std::count_if(noisy.begin(), noisy.end(),
                            [&](const auto& d) { return shard(d.device) == shard(listed.device); }),
              1);
  }
  const aggregate::NoisyDevice* d = Find(noisy, crossing);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->alerts_24h, 30u);
  const uint32_t known = 30 - threshold + 2;  // from the crossing alert on, plus the two kept
  EXPECT_EQ(d->code_count[0], known);
  EXPECT_EQ(d->untracked, 30u - known);
  EXPECT_EQ(inputs->noisy_dropped(), turned_away);
  EXPECT_LE(inputs->tracked_devices(), 2 * aggregate::kVirtualShards);
}

TEST_F(NoisyDevicesTest, TheSameDevicesAreListedAndTalliedWhateverTheWorkerCount) {
  config_.noisy_threshold_24h = 20;
  config_.noisy_track_codes_from = 3;
  config_.noisy_track_capacity = aggregate::kVirtualShards;
  config_.noisy_capacity = aggregate::kVirtualShards;
  struct Outcome {
    std::vector<aggregate::NoisyDevice> noisy;
    uint64_t dropped = 0, untracked = 0;
    size_t tracked = 0;
  };
  const auto run = [&](size_t workers) {
    Start(workers);
    // Quiet and noisy devices interleaved, far more than the quotas: which ones are kept depends
    // on the order alerts arrive in their shard, and on nothing else.
    for (uint32_t i = 0; i < 30; ++i) {
      for (uint64_t dev = 100; dev < 400; ++dev) {
        if (dev % 3 == 0 && i >= 4) continue;  // quiet: 4 alerts
        Send(dev, dev % 2 == 0 ? "8F40" : "8014", kT0 + i * 60'000 + static_cast<int64_t>(dev));
      }
    }
    Outcome o;
    o.noisy = NoisyAt(*engine_, kT0 + 40 * 60'000);
    for (size_t w = 0; w < engine_->worker_count(); ++w) {
      const aggregate::RuleInputs* in = engine_->worker(w).rule_inputs();
      o.dropped += in->noisy_dropped();
      o.untracked += in->codes_untracked();
      o.tracked += in->tracked_devices();
    }
    return o;
  };
  const Outcome one = run(1);
  ASSERT_GT(one.dropped, 0u);  // the quotas were reached
  ASSERT_GT(one.untracked, 0u);
  for (size_t workers : {2u, 4u}) {
    const Outcome many = run(workers);
    EXPECT_EQ(many.dropped, one.dropped) << workers;
    EXPECT_EQ(many.untracked, one.untracked) << workers;
    EXPECT_EQ(many.tracked, one.tracked) << workers;
    ASSERT_EQ(many.noisy.size(), one.noisy.size()) << workers;
    for (size_t i = 0; i < one.noisy.size(); ++i) {
      const aggregate::NoisyDevice& a = one.noisy[i];
      const aggregate::NoisyDevice& b = many.noisy[i];
      EXPECT_EQ(b.device, a.device) << workers;
      EXPECT_EQ(b.alerts_24h, a.alerts_24h);
      EXPECT_EQ(b.untracked, a.untracked);
      EXPECT_EQ(b.other_count, a.other_count);
      for (int k = 0; k < aggregate::NoisyDevice::kTopCodes; ++k) {
        EXPECT_EQ(b.code[k], a.code[k]);
        EXPECT_EQ(b.code_count[k], a.code_count[k]);
      }
    }
  }
}

// The outage signals kept between two readings are a quota per virtual shard, restarted at each
// reading: the same signals are kept, and the same counted as dropped, whatever the worker count.
TEST_F(NoisyDevicesTest, OutageSignalsAreKeptPerShardBetweenReadings) {
  const auto shard = [](uint64_t dev) { return aggregate::VirtualShardOf(DeviceId{dev}); };
  struct Minute {
    std::vector<std::pair<int64_t, uint64_t>> kept;  // (time, device)
    uint64_t dropped = 0;
  };
  const auto run = [&](size_t workers) {
    Start(workers, /*signal_capacity=*/aggregate::kVirtualShards);  // one per shard
    std::vector<Minute> minutes;
    for (int m = 0; m < 2; ++m) {
      const int64_t t = kT0 + m * kMsPerMinute;
      for (uint64_t dev = 100; dev < 300; ++dev) Send(dev + 1000 * m, "AD1", t + 1);
      const aggregate::Readings r =
          engine_->Read(EventTime{t + kMsPerMinute}, EventTime{kT0}, /*views=*/0);
      Minute out;
      for (const aggregate::OutageSignalRecord& s : r.signals)
        out.kept.emplace_back(s.time_ms, s.device);
      out.dropped = r.signals_dropped;
      minutes.push_back(out);
    }
    return minutes;
  };
  const std::vector<Minute> one = run(1);
  for (int m = 0; m < 2; ++m) {
    std::set<size_t> shards;
    for (uint64_t dev = 100; dev < 300; ++dev) shards.insert(shard(dev + 1000 * m));
    ASSERT_LT(shards.size(), 200u);
    // Each reading restarts the quota: the second minute keeps as many as its shards again.
    EXPECT_EQ(one[m].kept.size(), shards.size()) << m;
    std::set<size_t> kept_shards;
    for (const auto& [t, dev] : one[m].kept) kept_shards.insert(shard(dev));
    EXPECT_EQ(kept_shards, shards);
  }
  EXPECT_EQ(one[1].dropped, 400 - one[0].kept.size() - one[1].kept.size());
  const std::vector<Minute> four = run(4);
  for (int m = 0; m < 2; ++m) {
    EXPECT_EQ(four[m].kept, one[m].kept) << m;
    EXPECT_EQ(four[m].dropped, one[m].dropped) << m;
  }
}

TEST_F(NoisyDevicesTest, TalliesSurviveACheckpointAndMalformedOnesAreRefused) {
  Start();
  int64_t t = kT0;
  for (int i = 0; i < 300; ++i) {
    const uint64_t dev = 50 + static_cast<uint64_t>(i % 3);
    Send(dev, i % 5 == 0 ? "8014" : (i % 7 == 0 ? "8002" : "8F40"), t += 20'000, 1 + i % 2);
  }
  for (int i = 0; i < 4; ++i) Send(60 + static_cast<uint64_t>(i), "8014", t += 20'000);
  BinaryWriter w = BinaryWriter::ToMemory();
  engine_->SaveState(w);
  const std::string state = w.TakeBytes();

  catalog::ReferenceData ref2 = testing::LoadTestReference();
  auto restored = MakeEngine(ref2, 2);
  {
    BinaryReader r = BinaryReader::FromMemory(state);
    ASSERT_TRUE(restored->LoadState(r, aggregate::Engine::kStateVersion, "state").ok());
    ASSERT_TRUE(r.Finish().ok());
  }
  const auto same = [&](int64_t now) {
    const auto a = NoisyAt(*engine_, now), b = NoisyAt(*restored, now);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof a[i]), 0) << "row " << i;
      ExpectExact(b[i], Expected(b[i].device, now));
    }
  };
  same(t);
  // Both go on alike: the restored tallies are live, not a copy of the list.
  for (int i = 0; i < 30; ++i) {
    const AlertEvent e = Event(50, "8005", t += 20'000);
    engine_->WorkerFor(e.device).Apply(e);
    restored->WorkerFor(e.device).Apply(e);
    sent_.push_back({50, "8005", e.event_time.ms, 1});
  }
  same(t);

  // Without rules the part is skipped; every truncation is refused as data loss, not a crash.
  catalog::ReferenceData ref3 = testing::LoadTestReference();
  auto plain = MakeEngine(ref3, 2, /*rules=*/false);
  BinaryReader r = BinaryReader::FromMemory(state);
  EXPECT_TRUE(plain->LoadState(r, aggregate::Engine::kStateVersion, "state").ok());
  EXPECT_TRUE(r.Finish().ok());
  for (size_t cut = 64; cut < state.size(); cut += state.size() / 97) {
    catalog::ReferenceData ref4 = testing::LoadTestReference();
    auto e = MakeEngine(ref4, 2);
    const std::string truncated = state.substr(0, cut);
    BinaryReader rt = BinaryReader::FromMemory(truncated);
    absl::Status st = e->LoadState(rt, aggregate::Engine::kStateVersion, "state");
    if (st.ok()) st = rt.Finish();
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "cut at " << cut << ": " << st;
  }
}

}  // namespace
}  // namespace smetsmon::rules
