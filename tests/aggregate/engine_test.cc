#include "aggregate/engine.h"

#include <gtest/gtest.h>

#include <fstream>

#include "base/binary_file.h"
#include "base/fields.h"
#include "testing/fixtures.h"

namespace smetsmon::aggregate {
namespace {

// Base times chosen to sit at, just after and just before minute/hour/day boundaries, so bucket
// numbers wrap around the rings at different places.
const int64_t kBases[] = {
    1687780800000,              // 2023-06-26T12:00:00Z (hour boundary)
    1687780800000 + 59'999,     // one ms before a minute boundary
    1687780800000 + 3'599'999,  // one ms before an hour boundary
    1700000000000 + 12'345,     // arbitrary
    86'400'000LL * 20000 - 1,   // one ms before a day boundary
};

class EngineTest : public ::testing::TestWithParam<int64_t> {
 protected:
  EngineTest() : ref_(testing::LoadTestReference()) {}

  AlertEvent Event(uint64_t device, uint64_t alert_id, int64_t offset_ms, const char* code = "8F40",
                   Generation g = Generation::kSmets1, int area_distributor = 16) {
    AlertEvent e;
    e.device = DeviceId{device};
    e.alert_fingerprint = alert_id;
    e.event_time = EventTime{GetParam() + offset_ms};
    e.code = *ParseAlertCode(code);
    e.generation = g;
    e.area = ref_.areas->ByDistributorId(area_distributor);
    e.dmc = DmcId{ref_.dmcs->Intern("MDS-ELSTER-A1140")};
    e.cohort = CohortId{ref_.cohorts->Intern("MOC")};
    return e;
  }
  void Apply(Engine& engine, const AlertEvent& e) { engine.WorkerFor(e.device).Apply(e); }

  uint64_t Cell(const Engine& engine, const std::vector<uint64_t>& cells, const char* code,
                Generation g = Generation::kSmets1, int area_distributor = 16) {
    const auto& l = engine.layout();
    return cells[l.MainCell(ref_.areas->Slot(ref_.areas->ByDistributorId(area_distributor)),
                            ref_.catalogue->SlotOf(*ParseAlertCode(code)), g)];
  }
  uint64_t ViewCount(const Engine& engine, View v, int64_t now_offset, const char* code = "8F40") {
    return Cell(engine, engine.View(v, EventTime{GetParam() + now_offset}), code);
  }

  catalog::ReferenceData ref_;
};

TEST_P(EngineTest, ViewsCountAlertsInTheirSpans) {
  Engine engine(ref_, EngineConfig{});
  Apply(engine, Event(1, 1, 0));
  Apply(engine, Event(2, 2, 2 * kMsPerMinute));
  Apply(engine, Event(3, 3, 30 * kMsPerMinute));
  Apply(engine, Event(4, 4, 2 * kMsPerHour));
  const int64_t now = 2 * kMsPerHour;
  EXPECT_EQ(ViewCount(engine, View::k1m, now), 1u);
  EXPECT_EQ(ViewCount(engine, View::k1h, now), 1u);  // the others are over an hour old
  EXPECT_EQ(ViewCount(engine, View::k24h, now), 4u);
  // At an earlier "now" the minute ring no longer holds those buckets: nothing, not wrong data.
  EXPECT_EQ(ViewCount(engine, View::k5m, 3 * kMsPerMinute), 0u);
}

TEST_P(EngineTest, FiveMinuteViewAtStreamTime) {
  Engine engine(ref_, EngineConfig{});
  for (int i = 0; i < 10; ++i) Apply(engine, Event(10 + i, 100 + i, i * kMsPerMinute));
  const int64_t now = 9 * kMsPerMinute;
  // 5 minute buckets ending with the one holding `now`; events sit 1 per minute offset from base,
  // so the count depends only on how many of offsets 0..9 min fall into those buckets.
  const int64_t now_bucket = (GetParam() + now) / kMsPerMinute;
  uint64_t expected = 0;
  for (int i = 0; i < 10; ++i) {
    const int64_t b = (GetParam() + i * kMsPerMinute) / kMsPerMinute;
    expected += b > now_bucket - 5 && b <= now_bucket;
  }
  EXPECT_EQ(ViewCount(engine, View::k5m, now), expected);
  EXPECT_EQ(engine.Counters().accepted, 10u);
}

TEST_P(EngineTest, DuplicatesWithinTheHorizonCountOnce) {
  Engine engine(ref_, EngineConfig{});
  Apply(engine, Event(1, 77, 0));
  Apply(engine, Event(1, 77, 0));                  // redelivery
  Apply(engine, Event(2, 78, 50 * kMsPerMinute));  // moves stream time
  Apply(engine, Event(1, 77, 0));                  // still within 1 h of stream time
  const CounterTotals c = engine.Counters();
  EXPECT_EQ(c.accepted, 2u);
  EXPECT_EQ(c.duplicates, 2u);
  Apply(engine, Event(2, 79, 2 * kMsPerHour + kMsPerMinute));  // past the horizon
  Apply(engine, Event(1, 77, 2 * kMsPerHour));
  EXPECT_EQ(engine.Counters().duplicates, 2u);
  EXPECT_EQ(engine.Counters().accepted, 4u);
}

TEST_P(EngineTest, LateEventsAreCountedPerWindowAndKeptOutOfIt) {
  Engine engine(ref_, EngineConfig{});
  Apply(engine, Event(1, 1, 3 * kMsPerHour));
  Apply(engine, Event(2, 2, 3 * kMsPerHour - 4 * kMsPerMinute));  // within allowed lateness
  Apply(engine, Event(3, 3, kMsPerHour + kMsPerMinute));          // too old for the 1 h level
  Apply(engine, Event(4, 4, -26 * kMsPerHour));                   // too old for every window
  const CounterTotals c = engine.Counters();
  EXPECT_EQ(c.accepted, 4u);  // late events are valid
  EXPECT_EQ(c.late_1h, 2u);
  EXPECT_EQ(c.late_24h, 1u);
  EXPECT_EQ(ViewCount(engine, View::k1h, 3 * kMsPerHour), 2u);
  EXPECT_EQ(ViewCount(engine, View::k24h, 3 * kMsPerHour), 3u);
  // Cumulative totals still count every accepted alert; device history still sees the late one.
  EXPECT_EQ(Cell(engine, engine.Totals(), "8F40"), 4u);
  ASSERT_NE(engine.FindDevice(DeviceId{4}), nullptr);
  EXPECT_EQ(engine.FindDevice(DeviceId{4})->last_seen_ms() / 1000,
            (GetParam() - 26 * kMsPerHour) / 1000);
}

TEST_P(EngineTest, IdleStreamAdvancesWithProcessingTime) {
  EngineConfig config;
  config.idle_lag_ms = 5 * kMsPerMinute;
  Engine engine(ref_, config);
  Apply(engine, Event(1, 1, 0));
  EXPECT_EQ(ViewCount(engine, View::k1h, 0), 1u);
  // Processing time 30 min later, less the lag: the stream clock moves to +25 min.
  engine.worker(0).AdvanceTo(EventTime{GetParam() + 30 * kMsPerMinute - config.idle_lag_ms});
  EXPECT_EQ(engine.StreamTime().ms, GetParam() + 25 * kMsPerMinute);
  EXPECT_EQ(ViewCount(engine, View::k1m, 25 * kMsPerMinute), 0u);
  EXPECT_EQ(ViewCount(engine, View::k1h, 25 * kMsPerMinute), 1u);
  engine.worker(0).AdvanceTo(EventTime{GetParam() + 3 * kMsPerHour - config.idle_lag_ms});
  EXPECT_EQ(ViewCount(engine, View::k1h, 3 * kMsPerHour - 5 * kMsPerMinute), 0u);
  // An earlier processing time never moves the stream back.
  engine.worker(0).AdvanceTo(EventTime{GetParam() - config.idle_lag_ms});
  EXPECT_EQ(engine.StreamTime().ms, GetParam() + 3 * kMsPerHour - 5 * kMsPerMinute);
}

TEST_P(EngineTest, ThrottledCountWeightsAlertsNotMessages) {
  Engine engine(ref_, EngineConfig{});
  AlertEvent e = Event(1, 1, 0, "8028", Generation::kSmets2, 12);
  e.throttled_count = 12;
  Apply(engine, e);
  EXPECT_EQ(engine.Counters().accepted, 1u);
  EXPECT_EQ(Cell(engine, engine.Totals(), "8028", Generation::kSmets2, 12), 12u);
  EXPECT_EQ(engine.FindDevice(DeviceId{1})->AlertsIn24h(e.event_time), 12u);
}

TEST_P(EngineTest, Smets1DmcAndCohortCellsCountOnlySmets1) {
  Engine engine(ref_, EngineConfig{});
  Apply(engine, Event(1, 1, 0, "8F40", Generation::kSmets1));
  Apply(engine, Event(2, 2, 0, "8002", Generation::kSmets2));
  const auto cells = engine.View(View::k1h, EventTime{GetParam()});
  const auto& l = engine.layout();
  const size_t voltage = static_cast<size_t>(ref_.catalogue->CategoryIndexOf("voltage"));
  const size_t avg_over = static_cast<size_t>(ref_.catalogue->CategoryIndexOf("voltage.avg_over"));
  const uint16_t dmc = ref_.dmcs->Find("MDS-ELSTER-A1140");
  EXPECT_EQ(cells[l.DmcCell(dmc, voltage)], 1u);
  EXPECT_EQ(cells[l.DmcCell(dmc, avg_over)], 0u);
  EXPECT_EQ(cells[l.CohortCell(ref_.cohorts->Find("MOC"), voltage)], 1u);
}

TEST_P(EngineTest, ShardingGivesTheSameNumbersAsOneWorker) {
  EngineConfig one;
  EngineConfig four;
  four.workers = 4;
  Engine a(ref_, one), b(ref_, four);
  for (uint64_t i = 0; i < 2000; ++i) {
    // A redelivery repeats the alert id and the device: ids repeat every 1700 events.
    const AlertEvent e =
        Event(1000 + (i % 1700) % 300, 1 + i % 1700, static_cast<int64_t>(i) * 1000,
              i % 3 ? "8F40" : "AD1", i % 2 ? Generation::kSmets1 : Generation::kSmets2,
              10 + static_cast<int>(i % 14));
    Apply(a, e);
    Apply(b, e);
  }
  const EventTime now = a.StreamTime();
  EXPECT_EQ(now, b.StreamTime());
  EXPECT_EQ(a.Totals(), b.Totals());
  EXPECT_EQ(a.View(View::k1h, now), b.View(View::k1h, now));
  EXPECT_EQ(a.Counters().accepted, b.Counters().accepted);
  EXPECT_EQ(a.Counters().duplicates, b.Counters().duplicates);
  EXPECT_GT(a.Counters().duplicates, 0u);
  EXPECT_EQ(b.Counters().devices, 300u);
  for (size_t w = 0; w < 4; ++w) EXPECT_GT(b.worker(w).devices().size(), 0u);
}

// max_devices is enforced per virtual shard: with room for two devices in each, the first two
// devices of a shard get a state, later ones none, whatever the number of workers; every alert
// still counts in the windows and totals.
TEST_P(EngineTest, DevicesPastTheCapacityGetNoStateButTheirAlertsCount) {
  constexpr uint64_t kDevices = 1000;
  constexpr size_t kPerShard = 2;
  std::vector<size_t> in_shard(kVirtualShards, 0);
  std::vector<bool> stated(kDevices + 1, false);
  uint64_t expected_stated = 0;
  for (uint64_t d = 1; d <= kDevices; ++d) {
    if (in_shard[VirtualShardOf(DeviceId{d})]++ < kPerShard) stated[d] = true;
    expected_stated += stated[d];
  }
  ASSERT_LT(expected_stated, kDevices);  // the scenario does reach the cap
  for (size_t workers : {size_t{1}, size_t{3}}) {
    SCOPED_TRACE(workers);
    EngineConfig config;
    config.workers = workers;
    config.max_devices = kPerShard * kVirtualShards;
    config.dedup_capacity = 1 << 16;
    Engine engine(ref_, config);
    for (int round = 0; round < 2; ++round) {
      for (uint64_t d = 1; d <= kDevices; ++d) {
        Apply(engine,
              Event(d, round * kDevices + d, round * kMsPerMinute, "8028", Generation::kSmets2));
      }
    }
    const CounterTotals c = engine.Counters();
    EXPECT_EQ(c.accepted, 2 * kDevices);
    EXPECT_EQ(c.devices, expected_stated);
    EXPECT_LE(c.devices, config.max_devices);
    EXPECT_EQ(c.devices_refused, 2 * (kDevices - expected_stated));  // both alerts of each
    for (uint64_t d = 1; d <= kDevices; ++d) {
      const DeviceState* state = engine.FindDevice(DeviceId{d});
      ASSERT_EQ(state != nullptr, stated[d]) << d;
      if (state != nullptr) {
        EXPECT_EQ(state->AlertsIn24h(EventTime{GetParam() + kMsPerMinute}), 2u);
      }
    }
    EXPECT_EQ(Cell(engine, engine.Totals(), "8028", Generation::kSmets2), 2 * kDevices);
    EXPECT_EQ(
        Cell(engine, engine.View(View::k24h, engine.StreamTime()), "8028", Generation::kSmets2),
        2 * kDevices);
  }
}

// A hostile run of maximum-weight messages into one cell: the 64-bit totals stay exact, each
// window cell stops at its 32-bit ceiling (never wraps to a small number) and every clipped add
// is counted.
TEST_P(EngineTest, MaxWeightMessagesSaturateWindowCellsAndTotalsStayExact) {
  Engine engine(ref_, EngineConfig{});
  const uint64_t weight = EngineConfig{}.max_throttled_count;
  constexpr uint64_t kCeiling = UINT32_MAX;
  const uint64_t fit = kCeiling / weight;  // messages that fit in a cell
  const uint64_t n = fit + 3;
  const uint64_t saturations_before = engine.Counters().cell_saturations;
  for (uint64_t i = 0; i < n; ++i) {
    AlertEvent e = Event(1 + i % 7, 1 + i, 0, "8028", Generation::kSmets2);
    e.throttled_count = static_cast<uint32_t>(weight);
    Apply(engine, e);
  }
  ASSERT_EQ(engine.Counters().accepted, n);
  EXPECT_EQ(Cell(engine, engine.Totals(), "8028", Generation::kSmets2), n * weight);
  const EventTime now = engine.StreamTime();
  EXPECT_EQ(Cell(engine, engine.View(View::k1m, now), "8028", Generation::kSmets2), kCeiling);
  EXPECT_EQ(Cell(engine, engine.View(View::k24h, now), "8028", Generation::kSmets2), kCeiling);
  // The adds past `fit` were clipped, once in the minute ring and once in the hour ring.
  EXPECT_EQ(engine.Counters().cell_saturations - saturations_before, 2 * (n - fit));
}

// The engine's part of a checkpoint, through memory (pipeline/checkpoint.h frames it in a file;
// tests/pipeline/checkpoint_test.cc covers the file).
std::string SaveState(const Engine& e) {
  BinaryWriter w = BinaryWriter::ToMemory();
  e.SaveState(w);
  return w.TakeBytes();
}
absl::Status LoadState(Engine& e, const std::string& bytes) {
  BinaryReader r = BinaryReader::FromMemory(bytes);
  SMETSMON_RETURN_IF_ERROR(e.LoadState(r, Engine::kStateVersion, "state"));
  return r.Finish();
}

TEST_P(EngineTest, SnapshotRoundTripRestoresEverything) {
  EngineConfig config;
  config.workers = 2;
  config.dedup_capacity = 1024;
  Engine a(ref_, config);
  for (uint64_t i = 0; i < 500; ++i) {
    AlertEvent e = Event(1 + i % 50, i, static_cast<int64_t>(i) * 7000);
    e.voltage_dv = 2530 + static_cast<int32_t>(i % 50);
    e.present |= AlertEvent::kHasVoltage;
    Apply(a, e);
  }
  a.worker(0).CountRejected(RejectReason::kBadTime);
  const std::string state = SaveState(a);

  catalog::ReferenceData ref2 = testing::LoadTestReference();
  Engine b(ref2, config);
  ASSERT_TRUE(LoadState(b, state).ok());
  const EventTime now = a.StreamTime();
  EXPECT_EQ(b.StreamTime(), now);
  EXPECT_EQ(b.Totals(), a.Totals());
  for (View v : kAllViews) EXPECT_EQ(b.View(v, now), a.View(v, now)) << ViewName(v);
  const CounterTotals ca = a.Counters(), cb = b.Counters();
  EXPECT_EQ(cb.accepted, ca.accepted);
  EXPECT_EQ(cb.rejected[static_cast<int>(RejectReason::kBadTime)], 1u);
  EXPECT_EQ(cb.devices, ca.devices);
  for (uint64_t d = 1; d <= 50; ++d) {
    const DeviceState* sa = a.FindDevice(DeviceId{d});
    const DeviceState* sb = b.FindDevice(DeviceId{d});
    ASSERT_NE(sb, nullptr);
    EXPECT_EQ(std::memcmp(sa, sb, sizeof(DeviceState)), 0);
  }
  // Symbols came back with the same ids.
  EXPECT_EQ(ref2.dmcs->Find("MDS-ELSTER-A1140"), ref_.dmcs->Find("MDS-ELSTER-A1140"));
  // The dedup filter came back too: a redelivery after restore is a duplicate.
  Apply(b, Event(1 + 499 % 50, 499, 499 * 7000));
  EXPECT_EQ(b.Counters().duplicates, ca.duplicates + 1);
}

TEST_P(EngineTest, ShardSectionsMoveDevicesAndDuplicatesToAnyNumberOfWorkers) {
  // The per-shard part of a checkpoint, taken with two workers, read into four: each shard's
  // devices and dedup entries arrive whole at their new owner.
  EngineConfig two;
  two.workers = 2;
  two.dedup_capacity = 64 * 1024;  // no evictions: every id stays
  Engine a(ref_, two);
  for (uint64_t i = 0; i < 600; ++i)
    Apply(a, Event(1 + i % 200, i, static_cast<int64_t>(i) * 1000));
  BinaryWriter w = BinaryWriter::ToMemory();
  a.WriteShards(w);
  const std::string shards = w.TakeBytes();
  EngineConfig four = two;
  four.workers = 4;
  catalog::ReferenceData ref2 = testing::LoadTestReference();
  Engine b(ref2, four);
  BinaryReader r = BinaryReader::FromMemory(shards);
  ASSERT_TRUE(b.ReadShards(r, "shards").ok());
  ASSERT_TRUE(r.Finish().ok());
  for (uint64_t d = 1; d <= 200; ++d) {
    const DeviceState* sa = a.FindDevice(DeviceId{d});
    const DeviceState* sb = b.FindDevice(DeviceId{d});
    ASSERT_NE(sb, nullptr) << d;
    EXPECT_EQ(std::memcmp(sa, sb, sizeof(DeviceState)), 0) << d;
    EXPECT_NE(b.worker(b.WorkerIndexFor(DeviceId{d})).devices().Find(d), nullptr);
  }
  // Every alert id came along: sent again, the new owners find the duplicates the old ones find.
  const uint64_t before = a.Counters().duplicates;
  for (uint64_t i = 0; i < 600; ++i) {
    Apply(a, Event(1 + i % 200, i, static_cast<int64_t>(i) * 1000));
    Apply(b, Event(1 + i % 200, i, static_cast<int64_t>(i) * 1000));
  }
  EXPECT_EQ(a.Counters().duplicates - before, 600u);
  EXPECT_EQ(b.Counters().duplicates, 600u);
  // A section whose device belongs to another shard is refused.
  std::string tampered = shards;
  tampered[tampered.size() - sizeof(DeviceState) - 8] ^= 0x01;  // the last device's key
  Engine c(ref2, four);
  BinaryReader rc = BinaryReader::FromMemory(tampered);
  EXPECT_EQ(c.ReadShards(rc, "shards").code(), absl::StatusCode::kDataLoss);
}

// A checkpoint taken with two workers restores into one, three or four: the windows and counters
// are partials that add up, devices and duplicates go by virtual shard; the restored engine then
// counts what follows (in order, late, redelivered) as the one that took it.
TEST_P(EngineTest, SnapshotRestoresIntoAnyNumberOfWorkers) {
  EngineConfig two;
  two.workers = 2;
  two.dedup_capacity = 64 * 1024;
  Engine a(ref_, two);
  for (uint64_t i = 0; i < 900; ++i) {
    Apply(a, Event(1 + i % 300, i, static_cast<int64_t>(i) * 7000, i % 3 == 0 ? "8F40" : "8014",
                   i % 2 == 0 ? Generation::kSmets1 : Generation::kSmets2));
  }
  Apply(a, Event(7, 5000, -kMsPerDay));  // late for every window
  a.worker(1).CountRejected(RejectReason::kBadTime);
  const std::string state = SaveState(a);
  const auto after = [&](Engine& e) {
    for (uint64_t i = 900; i < 1200; ++i) {
      Apply(e, Event(1 + i % 400, i, static_cast<int64_t>(i) * 7000));
    }
    Apply(e, Event(1 + 890 % 300, 890, 890 * 7000));    // a redelivery within the horizon
    Apply(e, Event(9, 6000, 900 * 7000 - kMsPerHour));  // late for the 1 h window only
  };
  const auto expect_same = [&](const Engine& x, const Engine& y) {
    const EventTime now = x.StreamTime();
    EXPECT_EQ(y.StreamTime(), now);
    EXPECT_EQ(y.Totals(), x.Totals());
    for (View v : kAllViews) EXPECT_EQ(y.View(v, now), x.View(v, now)) << ViewName(v);
    const CounterTotals cx = x.Counters(), cy = y.Counters();
    EXPECT_EQ(cy.accepted, cx.accepted);
    EXPECT_EQ(cy.duplicates, cx.duplicates);
    EXPECT_EQ(cy.devices, cx.devices);
    EXPECT_EQ(cy.late_1h, cx.late_1h);
    EXPECT_EQ(cy.late_24h, cx.late_24h);
    for (int i = 0; i < kRejectReasonCount; ++i) {
      EXPECT_EQ(cy.rejected[i], cx.rejected[i]) << i;
    }
    for (uint64_t d = 1; d <= 400; ++d) {
      const DeviceState* sx = x.FindDevice(DeviceId{d});
      const DeviceState* sy = y.FindDevice(DeviceId{d});
      ASSERT_EQ(sx == nullptr, sy == nullptr) << d;
      if (sx != nullptr) {
        EXPECT_EQ(std::memcmp(sx, sy, sizeof(DeviceState)), 0) << d;
      }
    }
  };
  for (size_t workers : {size_t{1}, size_t{3}, size_t{4}}) {
    SCOPED_TRACE(workers);
    EngineConfig config = two;
    config.workers = workers;
    catalog::ReferenceData ref2 = testing::LoadTestReference();
    Engine b(ref2, config);
    ASSERT_TRUE(LoadState(b, state).ok());
    Engine taken(ref_, two);
    ASSERT_TRUE(LoadState(taken, state).ok());
    ASSERT_GT(taken.Counters().late_24h, 0u);
    expect_same(taken, b);
    after(taken);
    after(b);
    EXPECT_GT(b.Counters().duplicates, 0u);
    expect_same(taken, b);
  }
}

TEST_P(EngineTest, SnapshotFromAnotherShapeOrTruncatedIsRefused) {
  EngineConfig small;
  small.dedup_capacity = 64 * 1024;
  Engine a(ref_, small);
  Apply(a, Event(1, 1, 0));
  const std::string state = SaveState(a);
  // Another duplicate filter size: its segments no longer line up.
  EngineConfig other = small;
  other.workers = 2;
  other.dedup_capacity = 128 * 1024;
  catalog::ReferenceData ref2 = testing::LoadTestReference();
  Engine b(ref2, other);
  const absl::Status s = LoadState(b, state);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("dedup capacity"), std::string::npos) << s;
  catalog::ReferenceData ref3 = testing::LoadTestReference();
  Engine c(ref3, small);
  EXPECT_EQ(LoadState(c, state.substr(0, state.size() - 7)).code(), absl::StatusCode::kDataLoss);
}

TEST_P(EngineTest, SnapshotUnderAnotherCatalogueIsRemappedByCode) {
  // Taken under the shipped catalogue, restored under one with two new codes listed first (every
  // slot moves) and 8014 no longer listed: counts follow their codes, 8014's go to "other".
  EngineConfig config;
  config.workers = 2;
  config.dedup_capacity = 1024;
  Engine a(ref_, config);
  const char* codes[] = {"8F40", "8014", "AD1", "8F98"};  // 8F98: listed in neither
  for (uint64_t i = 0; i < 400; ++i) {
    Apply(a, Event(1 + i % 40, i, static_cast<int64_t>(i) * 9000, codes[i % 7 % 4]));
  }
  const std::string state = SaveState(a);

  std::ifstream in(testing::ConfigDir() + "/alert_catalogue.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t pf = text.find("  - {code: \"8014\"");
  ASSERT_NE(pf, std::string::npos);
  text.erase(pf, text.find('\n', pf) + 1 - pf);
  text.insert(text.find("alerts:\n") + 8,
              "  - {code: \"8F99\", name: New, category: firmware}\n"
              "  - {code: \"8F97\", name: Newer, category: firmware}\n");
  const std::string catalogue_path = testing::TempPath("remap_catalogue.yaml");
  testing::WriteFile(catalogue_path, text);
  catalog::ReferenceData ref2 = testing::LoadTestReference();
  auto edited = catalog::AlertCatalogue::Load(catalogue_path);
  ASSERT_TRUE(edited.ok()) << edited.status();
  ref2.catalogue = std::make_unique<catalog::AlertCatalogue>(*std::move(edited));
  ASSERT_NE(ref2.catalogue->SlotOf(*ParseAlertCode("8F40")),
            ref_.catalogue->SlotOf(*ParseAlertCode("8F40")));
  Engine b(ref2, config);
  ASSERT_TRUE(LoadState(b, state).ok());

  const EventTime now = a.StreamTime();
  ASSERT_EQ(b.StreamTime(), now);
  const FleetLayout& la = a.layout();
  const FleetLayout& lb = b.layout();
  const size_t area = ref_.areas->Slot(ref_.areas->ByDistributorId(16));
  const auto slot = [](const catalog::ReferenceData& r, const char* code) {
    return r.catalogue->SlotOf(*ParseAlertCode(code));
  };
  const auto total = [](const Engine& e, size_t cell) {
    uint64_t n = 0;
    for (size_t w = 0; w < e.worker_count(); ++w) n += e.worker(w).alerts_total(cell);
    return n;
  };
  for (View v : kAllViews) {
    const std::vector<uint64_t> va = a.View(v, now), vb = b.View(v, now);
    const auto in_a = [&](const char* code) {
      return va[la.MainCell(area, slot(ref_, code), Generation::kSmets1)];
    };
    const auto in_b = [&](const char* code) {
      return vb[lb.MainCell(area, slot(ref2, code), Generation::kSmets1)];
    };
    EXPECT_EQ(in_b("8F40"), in_a("8F40")) << ViewName(v);
    EXPECT_EQ(in_b("AD1"), in_a("AD1")) << ViewName(v);
    EXPECT_EQ(in_b("8F99"), 0u) << ViewName(v);
    EXPECT_EQ(in_b("8F98"), in_a("8F98") + in_a("8014")) << ViewName(v);  // "other"
    // SMETS1 DMC cells are per category, whose list did not change.
    const uint16_t dmc = ref_.dmcs->Find("MDS-ELSTER-A1140");
    for (size_t c = 0; c < la.categories(); ++c) {
      EXPECT_EQ(vb[lb.DmcCell(dmc, c)], va[la.DmcCell(dmc, c)]) << ViewName(v) << " " << c;
    }
  }
  EXPECT_GT(total(a, la.MainCell(area, slot(ref_, "8014"), Generation::kSmets1)), 0u);
  EXPECT_EQ(total(b, lb.MainCell(area, slot(ref2, "8F40"), Generation::kSmets1)),
            total(a, la.MainCell(area, slot(ref_, "8F40"), Generation::kSmets1)));
  EXPECT_EQ(total(b, lb.MainCell(area, slot(ref2, "8014"), Generation::kSmets1)),
            total(a, la.MainCell(area, slot(ref_, "8014"), Generation::kSmets1)) +
                total(a, la.MainCell(area, slot(ref_, "8F98"), Generation::kSmets1)));
  EXPECT_EQ(b.Counters().accepted, a.Counters().accepted);
}

INSTANTIATE_TEST_SUITE_P(Offsets, EngineTest, ::testing::ValuesIn(kBases));

}  // namespace
}  // namespace smetsmon::aggregate
