// The generator's output against the contract and against its own truth: every line the truth
// calls valid decodes, every invalid one is rejected for the reason it was counted under, and the
// scenarios and faults have the shapes a monitor relies on. Hermetic: config from the source tree,
// no clock, no sleeps.
#include "gen/generator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/fields.h"
#include "decode/decoder.h"
#include "smetsmon/reject_reason.h"
#include "testing/fixtures.h"

namespace smetsmon::gen {
namespace {

constexpr ProcessingTime kFarFuture{4'000'000'000'000};  // no generated event is "future"

struct Decoded {
  RejectReason reason;
  AlertEvent event;
};

class GeneratorTest : public ::testing::Test {
 protected:
  GeneratorTest()
      : ref_(smetsmon::testing::LoadTestReference()),
        decoder_({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr}) {}

  std::vector<std::string> Generate(const GeneratorConfig& config,
                                    GeneratedTruth* truth = nullptr) {
    Generator g(*ref_.areas, *ref_.catalogue, config);
    std::vector<std::string> lines;
    g.Run([&](std::string_view l) { lines.emplace_back(l); });
    if (truth != nullptr) *truth = g.truth();
    return lines;
  }
  std::vector<Decoded> Decode(const std::vector<std::string>& lines) {
    std::vector<Decoded> out;
    out.reserve(lines.size());
    for (const std::string& line : lines) {
      Decoded d{};
      d.reason = decoder_.Decode(line, kFarFuture, &d.event);
      out.push_back(d);
    }
    return out;
  }
  // 16 h: every scenario starts inside it.
  static GeneratorConfig Small() {
    GeneratorConfig c;
    c.premises = 3000;
    c.duration_ms = 16 * kMsPerHour;
    return c;
  }

  catalog::ReferenceData ref_;
  decode::Decoder decoder_;
};

uint64_t Fnv1a(const std::vector<std::string>& lines) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (const std::string& l : lines) {
    for (const char c : l) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
    h = (h ^ '\n') * 0x100000001B3ULL;
  }
  return h;
}

TEST_F(GeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const GeneratorConfig a = Small();
  EXPECT_EQ(Generate(a), Generate(a));
  GeneratorConfig b = a;
  b.seed = 2;
  EXPECT_NE(Generate(a), Generate(b));
  // Run() starts afresh: a second run of one generator emits the same lines.
  Generator g(*ref_.areas, *ref_.catalogue, a);
  std::vector<std::string> first, second;
  g.Run([&](std::string_view l) { first.emplace_back(l); });
  g.Run([&](std::string_view l) { second.emplace_back(l); });
  EXPECT_EQ(first, second);
}

// Byte-identical across machines and library versions: the output of a small config is pinned.
// The generator uses integer distributions only, so this holds on any conforming platform. If
// you change the generator on purpose, update the constant (and say so in the commit).
TEST_F(GeneratorTest, OutputIsPinned) {
  GeneratorConfig c;
  c.premises = 500;
  c.duration_ms = 3 * kMsPerHour;
  c.duplicate_share = 0.01;
  c.malformed_share = 0.01;
  const auto lines = Generate(c);
  EXPECT_EQ(Fnv1a(lines), 0x8a686692978b27bcULL)
      << "lines=" << lines.size() << " hash=0x" << std::hex << Fnv1a(lines);
}

TEST_F(GeneratorTest, PopulationDoesNotDependOnTrafficOptions) {
  GeneratorConfig a = Small();
  GeneratorConfig b = a;
  b.seed = 7;
  b.population_seed = a.seed;
  b.duplicate_share = 0.1;
  std::ostringstream ia, ib;
  Generator(*ref_.areas, *ref_.catalogue, a).WriteInventoryCsv(ia);
  Generator(*ref_.areas, *ref_.catalogue, b).WriteInventoryCsv(ib);
  EXPECT_EQ(ia.str(), ib.str());
}

TEST_F(GeneratorTest, TruthAddsUpAndMatchesTheDecoder) {
  GeneratorConfig c = Small();
  c.duration_ms = 30 * kMsPerHour;  // late redeliveries too
  c.duplicate_share = 0.01;
  c.late_share = 0.01;
  c.malformed_share = 0.02;  // every kind, each variant
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  ASSERT_EQ(lines.size(), truth.lines);
  uint64_t rejected = 0;
  for (const auto& [reason, n] : truth.rejected) rejected += n;
  EXPECT_EQ(truth.lines, truth.valid + rejected);
  EXPECT_EQ(truth.unique_valid, truth.valid - truth.duplicates);
  EXPECT_GT(truth.duplicates, 0u);
  EXPECT_GT(truth.late, 0u);
  EXPECT_EQ(truth.rejected.size(), 7u);  // not_json ... bad_time, all seven kinds

  std::map<std::string, uint64_t> reasons, by_category, by_code;
  std::set<uint64_t> seen;
  uint64_t valid = 0, unique = 0;
  const int64_t end = c.start_ms + c.duration_ms;
  for (size_t i = 0; i < lines.size(); ++i) {
    AlertEvent e;
    const RejectReason r = decoder_.Decode(lines[i], kFarFuture, &e);
    if (r != RejectReason::kNone) {
      ++reasons[std::string(RejectReasonName(r))];
      continue;
    }
    ++valid;
    EXPECT_GE(e.event_time.ms, c.start_ms) << lines[i];
    EXPECT_LT(e.event_time.ms, end) << lines[i];
    EXPECT_NE(e.area, kUnknownArea) << lines[i];  // MPAN or gsp_group always names it
    EXPECT_TRUE(e.present & AlertEvent::kHasMpxn);
    if (e.present & AlertEvent::kHasDccTime) {
      EXPECT_GE(e.dcc_time.ms, e.event_time.ms);
    }
    if (!seen.insert(e.alert_fingerprint).second) continue;  // a duplicate
    ++unique;
    const catalog::CodeSlot slot = ref_.catalogue->SlotOf(e.code);
    by_category[ref_.catalogue->categories()[ref_.catalogue->CategoryOfSlot(slot)]] +=
        e.throttled_count;
    by_code[ref_.catalogue->SlotLabel(slot)] += e.throttled_count;
  }
  EXPECT_EQ(valid, truth.valid);
  EXPECT_EQ(unique, truth.unique_valid);
  EXPECT_EQ(reasons, truth.rejected);
  EXPECT_EQ(by_category, truth.alerts_by_category);
  EXPECT_EQ(by_code, truth.alerts_by_code);
  EXPECT_GT(by_code["other"], 0u);  // codes missing from the catalogue occur
}

TEST_F(GeneratorTest, ValidLinesUseTheContractsFieldFormats) {
  GeneratorConfig c = Small();
  c.malformed_share = 0;
  const auto lines = Generate(c);
  // The raw field texts, read without a JSON library: the generator writes no escapes in them.
  const auto field = [](const std::string& line, std::string_view key) -> std::string {
    std::string k(1, '"');
    k.append(key).append("\":");
    const size_t at = line.find(k);
    if (at == std::string::npos) return {};
    size_t from = at + k.size(), to;
    if (line[from] == '"') {
      to = line.find('"', ++from);
    } else {
      to = line.find_first_of(",}", from);
    }
    return line.substr(from, to - from);
  };
  std::set<std::string> time_shapes;
  uint64_t voltages = 0, smets1_voltage_codes = 0;
  for (const std::string& line : lines) {
    ASSERT_TRUE(ParseDeviceId(field(line, "device_id"))) << line;
    const auto code = ParseAlertCode(field(line, "alert_code"));
    ASSERT_TRUE(code) << line;
    const std::string t = field(line, "event_time");
    const size_t quoted = line.find("\"event_time\":\"");
    if (quoted != std::string::npos) {
      ASSERT_TRUE(ParseRfc3339Utc(t)) << line;
      time_shapes.insert(t.size() == 20 ? "whole" : t.back() == 'Z' ? "fraction" : "offset");
    } else {
      ASSERT_FALSE(t.empty()) << line;
      time_shapes.insert("epoch");
    }
    const std::string mpxn = field(line, "mpxn");
    ASSERT_EQ(mpxn.size(), 13u) << line;
    EXPECT_TRUE(MpanCheckDigitOk(mpxn)) << line;
    const std::string id = field(line, "alert_id");
    EXPECT_FALSE(id.empty());
    EXPECT_LE(id.size(), 128u);
    const std::string smets = field(line, "smets");
    const std::string volts = field(line, "voltage_dv");
    if (!volts.empty()) {
      ++voltages;
      const int v = std::stoi(volts);
      EXPECT_GE(v, 1500);
      EXPECT_LE(v, 2990);
    }
    if (code->value == 0x8F40) {
      EXPECT_EQ(smets, "1") << "8F40 is SMETS1-only: " << line;
      const int v = std::stoi(volts);
      EXPECT_GE(v, 2530);
      EXPECT_LE(v, 2580);
      ++smets1_voltage_codes;
    }
    EXPECT_EQ(field(line, "dmc").empty(), smets == "2") << line;
  }
  EXPECT_GT(voltages, 0u);
  EXPECT_GT(smets1_voltage_codes, 0u);
  EXPECT_EQ(time_shapes.count("epoch"), 1u);
  EXPECT_EQ(time_shapes.count("fraction"), 1u);
  EXPECT_EQ(time_shapes.count("offset"), 1u);
}

TEST_F(GeneratorTest, BackgroundVolumeFollowsTheConfiguredRates) {
  GeneratorConfig c;
  c.premises = 20000;
  c.dmc_flood.enabled = c.pf_flood.enabled = false;
  c.power_cut.enabled = c.comms_incident.enabled = false;
  c.duplicate_share = c.late_share = c.malformed_share = 0;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  uint64_t smets1 = 0, smets1_alerts = 0;
  for (const Decoded& d : Decode(lines)) {
    ASSERT_EQ(d.reason, RejectReason::kNone);
    if (d.event.generation == Generation::kSmets1) ++smets1_alerts;
  }
  std::stringstream csv;
  Generator(*ref_.areas, *ref_.catalogue, c).WriteInventoryCsv(csv);
  for (std::string row; std::getline(csv, row);) smets1 += row.find(",1,") != std::string::npos;
  smets1 /= 2;  // hub and meter rows
  const double premises1 = static_cast<double>(smets1);
  const double premises2 = static_cast<double>(c.premises - smets1);
  const double expected = premises1 * 2.3 + premises2 * 1.6;  // one whole day
  EXPECT_NEAR(static_cast<double>(lines.size()), expected, expected * 0.03);
  EXPECT_NEAR(static_cast<double>(smets1_alerts), premises1 * 2.3, premises1 * 2.3 * 0.05);
  EXPECT_NEAR(premises1 / static_cast<double>(c.premises), 0.25, 0.02);
}

TEST_F(GeneratorTest, PoissonHasTheRequestedMeanAndSpread) {
  for (const double mean : {0.3, 5.0, 23.0, 24.0, 400.0, 90000.0}) {
    Generator::Rng rng(42);
    const int n = 20000;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; ++i) {
      const auto k = static_cast<double>(rng.Poisson(mean));
      sum += k;
      sum2 += k * k;
    }
    const double m = sum / n, var = sum2 / n - m * m;
    EXPECT_NEAR(m, mean, 5 * std::sqrt(mean / n) + 1e-9) << mean;
    EXPECT_NEAR(var, mean, mean * 0.08) << mean;
  }
  Generator::Rng rng(1);
  EXPECT_EQ(rng.Poisson(0), 0u);
  EXPECT_EQ(rng.Poisson(-3), 0u);
}

TEST_F(GeneratorTest, PowerCutPairsHubOutagesWithMeterRestorationsByMpan) {
  GeneratorConfig c = Small();
  c.comms_incident.enabled = false;
  GeneratedTruth truth;
  const auto decoded = Decode(Generate(c, &truth));
  ASSERT_GT(truth.power_cut_premises, 0u);
  const AlertCode ad1 = *ParseAlertCode("AD1");
  const AlertCode r36 = *ParseAlertCode("8F36");
  const int64_t cut = c.start_ms + c.power_cut.start_offset_ms;
  const int64_t restore = cut + c.power_cut.duration_ms;
  std::map<uint64_t, int64_t> outage_by_mpan;
  std::map<uint64_t, uint64_t> hub_by_mpan;
  std::set<uint64_t> restored;
  for (const Decoded& d : decoded) {
    if (d.reason != RejectReason::kNone) continue;
    const AlertEvent& e = d.event;
    if (e.code == ad1) {
      EXPECT_EQ(e.device.value >> 48, 0x00DBu);  // from a comms hub
      EXPECT_EQ(e.area, ref_.areas->ByGspGroup('G'));
      EXPECT_GE(e.event_time.ms, cut);
      EXPECT_LT(e.event_time.ms, cut + 2 * kMsPerMinute);
      EXPECT_TRUE(outage_by_mpan.emplace(e.mpxn, e.event_time.ms).second) << "one AD1 each";
      hub_by_mpan[e.mpxn] = e.device.value;
    } else if (e.code == r36 && e.event_time.ms >= restore &&
               e.event_time.ms < restore + 2 * kMsPerMinute && outage_by_mpan.count(e.mpxn)) {
      EXPECT_EQ(e.device.value >> 48, 0x00DCu);  // the meter of the same premises
      EXPECT_EQ(e.device.value & 0xFFFFFFFFFFFFULL, hub_by_mpan[e.mpxn] & 0xFFFFFFFFFFFFULL);
      EXPECT_GE(e.event_time.ms - outage_by_mpan[e.mpxn], 3 * kMsPerMinute);
      restored.insert(e.mpxn);
    } else if (outage_by_mpan.count(e.mpxn) && e.event_time.ms > cut + 2 * kMsPerMinute &&
               e.event_time.ms < restore) {
      ADD_FAILURE() << "a meter off supply raised an alert";
    }
  }
  EXPECT_EQ(outage_by_mpan.size(), truth.power_cut_premises);
  EXPECT_EQ(restored.size(), truth.power_cut_premises);
}

TEST_F(GeneratorTest, ShortPowerCutRestoresWith8F35AndACutPastTheEndIsLeftOut) {
  GeneratorConfig c = Small();
  c.comms_incident.enabled = false;
  c.power_cut.duration_ms = 2 * kMsPerMinute;
  GeneratedTruth truth;
  auto decoded = Decode(Generate(c, &truth));
  ASSERT_GT(truth.power_cut_premises, 0u);
  const int64_t restore = c.start_ms + c.power_cut.start_offset_ms + c.power_cut.duration_ms;
  uint64_t r35 = 0;
  for (const Decoded& d : decoded) {
    if (d.reason == RejectReason::kNone && d.event.code.value == 0x8F35 &&
        d.event.event_time.ms >= restore && d.event.event_time.ms < restore + 2 * kMsPerMinute &&
        (d.event.device.value >> 48) == 0x00DC) {
      ++r35;
    }
  }
  EXPECT_GE(r35, truth.power_cut_premises);

  c.duration_ms = c.power_cut.start_offset_ms + kMsPerMinute;  // ends before any restoration
  decoded = Decode(Generate(c, &truth));
  EXPECT_EQ(truth.power_cut_premises, 0u);
  for (const Decoded& d : decoded) EXPECT_NE(d.event.code, *ParseAlertCode("AD1"));
}

TEST_F(GeneratorTest, CommsIncidentIsARestorationFloodWithoutOutages) {
  GeneratorConfig c = Small();  // the power cut too: its AD1s are 4 h earlier
  GeneratedTruth truth;
  const auto decoded = Decode(Generate(c, &truth));
  ASSERT_GT(truth.comms_incident_premises, 0u);
  const AlertCode ad1 = *ParseAlertCode("AD1");
  const int64_t from = c.start_ms + c.comms_incident.start_offset_ms;
  const int64_t to = from + c.comms_incident.spread_ms;
  uint64_t restorations = 0;
  std::set<int> areas;
  for (const Decoded& d : decoded) {
    if (d.reason != RejectReason::kNone) continue;
    const AlertEvent& e = d.event;
    if (e.event_time.ms >= from - kMsPerHour && e.event_time.ms <= to) {
      EXPECT_NE(e.code, ad1) << "an outage alert near the comms incident";
    }
    if (e.event_time.ms >= from && e.event_time.ms <= to &&
        (e.code.value == 0x8F35 || e.code.value == 0x8F36)) {
      ++restorations;
      areas.insert(e.area.value);
    }
  }
  EXPECT_GE(restorations, truth.comms_incident_premises);
  EXPECT_EQ(areas.size(), ref_.areas->size());  // national: every area
}

TEST_F(GeneratorTest, DuplicatesRepeatAnAlertIdWithinThirtyMinutesOfStreamTime) {
  for (const uint64_t premises : {3000u, 40u}) {  // 40: sparse traffic, stream time jumps
    GeneratorConfig c = Small();
    c.premises = premises;
    c.duplicate_share = premises < 100 ? 0.5 : 0.05;
    GeneratedTruth truth;
    const auto lines = Generate(c, &truth);
    std::map<uint64_t, std::pair<int64_t, std::string>> first;  // fingerprint -> stream, line
    int64_t stream = 0;
    uint64_t repeats = 0;
    for (const std::string& line : lines) {
      AlertEvent e;
      if (decoder_.Decode(line, kFarFuture, &e) != RejectReason::kNone) continue;
      stream = std::max(stream, e.event_time.ms);
      const auto [it, fresh] = first.emplace(e.alert_fingerprint, std::make_pair(stream, line));
      if (!fresh) {
        ++repeats;
        EXPECT_LE(stream - it->second.first, 30 * kMsPerMinute) << line;
        EXPECT_EQ(line, it->second.second);  // a redelivery repeats the message
      }
    }
    EXPECT_EQ(repeats, truth.duplicates) << premises;
    EXPECT_GT(repeats, 0u) << premises;
  }
}

TEST_F(GeneratorTest, LateRedeliveriesAreOlderThanEveryWindow) {
  GeneratorConfig c = Small();
  c.premises = 2000;
  c.duration_ms = 30 * kMsPerHour;
  c.late_share = 0.01;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  ASSERT_GT(truth.late, 0u);
  int64_t stream = 0;
  uint64_t old = 0, behind = 0;
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder_.Decode(line, kFarFuture, &e) != RejectReason::kNone) continue;
    if (e.event_time.ms < stream - 24 * kMsPerHour - 5 * kMsPerMinute) {
      ++old;
      EXPECT_GE(stream - e.event_time.ms, 25 * kMsPerHour);
      EXPECT_LE(stream - e.event_time.ms, 47 * kMsPerHour);
      EXPECT_GE(e.event_time.ms, c.start_ms);
    } else if (e.event_time.ms < stream - 31 * kMsPerMinute) {
      ++behind;  // nothing else is far behind the stream (duplicates are within 30 min)
    }
    stream = std::max(stream, e.event_time.ms);
  }
  EXPECT_EQ(old, truth.late);
  EXPECT_EQ(behind, 0u);

  c.duration_ms = 25 * kMsPerHour;  // too short for a late redelivery: none
  Generate(c, &truth);
  EXPECT_EQ(truth.late, 0u);
}

TEST_F(GeneratorTest, FloodsComeFromTheirDevices) {
  GeneratorConfig c = Small();
  c.power_cut.enabled = c.comms_incident.enabled = false;
  GeneratedTruth truth;
  const auto decoded = Decode(Generate(c, &truth));
  ASSERT_GT(truth.dmc_flood_alerts, 0u);
  ASSERT_GT(truth.pf_flood_alerts, 0u);
  const uint16_t flooding = ref_.dmcs->Find(c.dmc_flood.dmc);
  ASSERT_NE(flooding, 0);
  const int64_t from = c.start_ms + c.dmc_flood.start_offset_ms;
  const int64_t to = from + c.dmc_flood.duration_ms;
  uint64_t in_flood = 0;
  std::map<uint16_t, uint64_t> per_dmc;
  for (const Decoded& d : decoded) {
    if (d.reason != RejectReason::kNone || d.event.code.value != 0x8F40) continue;
    if (d.event.event_time.ms >= from && d.event.event_time.ms < to) {
      per_dmc[d.event.dmc.value] += d.event.throttled_count;
      if (d.event.dmc.value == flooding) in_flood += d.event.throttled_count;
    }
  }
  EXPECT_GE(in_flood, truth.dmc_flood_alerts);
  for (const auto& [dmc, n] : per_dmc) {
    if (dmc != flooding) {
      EXPECT_LT(n * 10, in_flood) << dmc;
    }
  }
}

TEST_F(GeneratorTest, InventoryHasARowPerDeviceWithValidMpans) {
  const GeneratorConfig c = Small();
  Generator g(*ref_.areas, *ref_.catalogue, c);
  std::ostringstream csv;
  g.WriteInventoryCsv(csv);
  std::istringstream in(csv.str());
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on");
  std::map<uint64_t, std::string> mpxn_of;  // device -> mpxn
  std::set<std::string> mpans;
  uint64_t rows = 0, idno = 0;
  while (std::getline(in, line)) {
    ++rows;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (line.back() == ',') f.emplace_back();
    ASSERT_EQ(f.size(), 7u) << line;
    const auto id = ParseDeviceId(f[0]);
    ASSERT_TRUE(id) << line;
    EXPECT_TRUE(mpxn_of.emplace(id->value, f[1]).second) << "duplicate device " << line;
    mpans.insert(f[1]);
    ASSERT_EQ(f[1].size(), 13u) << line;
    EXPECT_TRUE(MpanCheckDigitOk(f[1])) << line;
    const auto gsp = ParseGspGroup(f[2]);
    ASSERT_TRUE(gsp) << line;
    const int distributor = std::stoi(f[1].substr(0, 2));
    if (distributor >= 24) {
      ++idno;
      EXPECT_LE(distributor, 31);
    } else {
      EXPECT_EQ(ref_.areas->ByDistributorId(distributor), ref_.areas->ByGspGroup(*gsp)) << line;
    }
    EXPECT_TRUE(f[3] == "1" || f[3] == "2") << line;
    EXPECT_EQ(f[4].empty(), f[3] == "2") << line;  // DMC and cohort for SMETS1 only
    EXPECT_EQ(f[5].empty(), f[3] == "2") << line;
    EXPECT_TRUE(ParseIsoDate(f[6])) << line;
  }
  EXPECT_EQ(rows, 2 * c.premises);
  EXPECT_EQ(mpxn_of.size(), rows);
  EXPECT_EQ(mpans.size(), c.premises);  // one MPAN per premises, shared by hub and meter
  EXPECT_NEAR(static_cast<double>(idno) / static_cast<double>(rows), 0.03, 0.015);

  // Every event's device is in the inventory, with the same MPAN.
  for (const Decoded& d : Decode(Generate(c))) {
    if (d.reason != RejectReason::kNone) continue;
    const auto it = mpxn_of.find(d.event.device.value);
    ASSERT_NE(it, mpxn_of.end());
    EXPECT_EQ(it->second, std::to_string(d.event.mpxn));
  }
}

TEST_F(GeneratorTest, CancelStopsAtAMinuteBoundaryAndTruthDescribesWhatWasSent) {
  GeneratorConfig c = Small();
  c.duplicate_share = 0.05;
  Generator g(*ref_.areas, *ref_.catalogue, c);
  std::atomic<bool> cancel{false};
  uint64_t lines = 0;
  g.Run(
      [&](std::string_view) {
        if (++lines == 5000) cancel.store(true);
      },
      &cancel);
  EXPECT_GE(lines, 5000u);
  EXPECT_EQ(g.truth().lines, lines);
  EXPECT_LT(lines, Generate(c).size());
}

TEST_F(GeneratorTest, TruthJsonNamesEveryCount) {
  GeneratedTruth truth;
  Generate(Small(), &truth);
  const std::string json = truth.ToJson();
  for (const char* key :
       {"\"lines\":", "\"valid\":", "\"unique_valid\":", "\"duplicates\":", "\"late\":",
        "\"rejected\":", "\"alerts_by_category\":", "\"alerts_by_code\":",
        "\"power_cut_premises\":", "\"comms_incident_premises\":", "\"dmc_flood_alerts\":",
        "\"pf_flood_alerts\":"}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace smetsmon::gen
