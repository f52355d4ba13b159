#include "gen/generator.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

#include "decode/decoder.h"
#include "decode/fields.h"
#include "testing/fixtures.h"

namespace smetsmon::gen {
namespace {

class GeneratorTest : public ::testing::Test {
 protected:
  GeneratorTest() : ref_(testing::LoadTestReference()) {}
  std::vector<std::string> Generate(const GeneratorConfig& config,
                                    GeneratedTruth* truth = nullptr) {
    Generator g(*ref_.areas, *ref_.catalogue, config);
    std::vector<std::string> lines;
    g.Run([&](std::string_view l) { lines.emplace_back(l); });
    if (truth) *truth = g.truth();
    return lines;
  }
  GeneratorConfig Small() {
    GeneratorConfig c;
    c.premises = 3000;
    c.duration_ms = 16 * kMsPerHour;  // covers every scenario
    return c;
  }
  catalog::ReferenceData ref_;
};

TEST_F(GeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  GeneratorConfig a = Small();
  EXPECT_EQ(Generate(a), Generate(a));
  GeneratorConfig b = a;
  b.seed = 2;
  EXPECT_NE(Generate(a), Generate(b));
}

TEST_F(GeneratorTest, TruthAddsUpAndMatchesTheDecoder) {
  GeneratedTruth truth;
  const auto lines = Generate(Small(), &truth);
  EXPECT_EQ(lines.size(), truth.lines);
  uint64_t rejected = 0;
  for (const auto& [reason, n] : truth.rejected) rejected += n;
  EXPECT_EQ(truth.lines, truth.valid + rejected);
  EXPECT_EQ(truth.unique_valid, truth.valid - truth.duplicates);
  decode::Decoder decoder({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  std::map<std::string, uint64_t> reasons;
  uint64_t valid = 0;
  for (const std::string& line : lines) {
    AlertEvent e;
    const RejectReason r = decoder.Decode(line, ProcessingTime{4'000'000'000'000}, &e);
    if (r == RejectReason::kNone) {
      ++valid;
    } else {
      ++reasons[std::string(RejectReasonName(r))];
    }
  }
  EXPECT_EQ(valid, truth.valid);
  EXPECT_EQ(reasons, truth.rejected);
}

TEST_F(GeneratorTest, DuplicatesRepeatAnAlertIdWithinThirtyMinutesOfStreamTime) {
  GeneratorConfig c = Small();
  c.duplicate_share = 0.05;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  decode::Decoder decoder({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  std::map<uint64_t, int64_t> first_seen_stream;  // fingerprint -> stream time at first sight
  int64_t stream = 0;
  uint64_t repeats = 0;
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder.Decode(line, ProcessingTime{4'000'000'000'000}, &e) != RejectReason::kNone)
      continue;
    stream = std::max(stream, e.event_time.ms);
    const auto [it, fresh] = first_seen_stream.emplace(e.alert_fingerprint, stream);
    if (!fresh) {
      ++repeats;
      EXPECT_LE(stream - it->second, 31 * kMsPerMinute);
    }
  }
  EXPECT_EQ(repeats, truth.duplicates);
  EXPECT_GT(repeats, 0u);
}

TEST_F(GeneratorTest, PowerCutPairsHubOutagesWithMeterRestorationsByMpan) {
  GeneratorConfig c = Small();
  c.comms_incident.enabled = false;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  ASSERT_GT(truth.power_cut_premises, 0u);
  decode::Decoder decoder({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  const AlertCode ad1 = *decode::ParseAlertCode("AD1");
  const AlertCode r36 = *decode::ParseAlertCode("8F36");
  std::map<uint64_t, int64_t> outage_by_mpan;
  uint64_t restored_after_outage = 0;
  const int64_t cut = c.start_ms + c.power_cut.start_offset_ms;
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder.Decode(line, ProcessingTime{4'000'000'000'000}, &e) != RejectReason::kNone)
      continue;
    if (e.code == ad1) {
      EXPECT_EQ(e.device.value >> 48, 0x00DBu);  // from a comms hub
      EXPECT_EQ(e.area, ref_.areas->ByGspGroup('G'));
      outage_by_mpan[e.mpxn] = e.event_time.ms;
    } else if (e.code == r36 && e.event_time.ms >= cut + c.power_cut.duration_ms &&
               outage_by_mpan.count(e.mpxn)) {
      EXPECT_EQ(e.device.value >> 48, 0x00DCu);  // from the meter of the same premises
      EXPECT_GE(e.event_time.ms - outage_by_mpan[e.mpxn], 3 * kMsPerMinute);
      ++restored_after_outage;
    }
  }
  EXPECT_EQ(outage_by_mpan.size(), truth.power_cut_premises);
  EXPECT_EQ(restored_after_outage, truth.power_cut_premises);
}

TEST_F(GeneratorTest, CommsIncidentIsARestorationFloodWithoutOutages) {
  GeneratorConfig c = Small();
  c.power_cut.enabled = false;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  ASSERT_GT(truth.comms_incident_premises, 0u);
  decode::Decoder decoder({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  const AlertCode ad1 = *decode::ParseAlertCode("AD1");
  uint64_t restorations_in_incident = 0;
  const int64_t from = c.start_ms + c.comms_incident.start_offset_ms;
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder.Decode(line, ProcessingTime{4'000'000'000'000}, &e) != RejectReason::kNone)
      continue;
    EXPECT_NE(e.code, ad1);
    if (e.event_time.ms >= from && e.event_time.ms <= from + c.comms_incident.spread_ms &&
        (e.code.value == 0x8F35 || e.code.value == 0x8F36)) {
      ++restorations_in_incident;
    }
  }
  EXPECT_GE(restorations_in_incident, truth.comms_incident_premises);
}

TEST_F(GeneratorTest, LateRedeliveriesAreOlderThanEveryWindow) {
  GeneratorConfig c = Small();
  c.premises = 2000;
  c.duration_ms = 27 * kMsPerHour;
  c.late_share = 0.01;
  GeneratedTruth truth;
  const auto lines = Generate(c, &truth);
  ASSERT_GT(truth.late, 0u);
  decode::Decoder decoder({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  int64_t stream = 0;
  uint64_t old = 0;
  for (const std::string& line : lines) {
    AlertEvent e;
    if (decoder.Decode(line, ProcessingTime{4'000'000'000'000}, &e) != RejectReason::kNone)
      continue;
    if (e.event_time.ms < stream - 24 * kMsPerHour - 5 * kMsPerMinute) ++old;
    stream = std::max(stream, e.event_time.ms);
  }
  EXPECT_EQ(old, truth.late);
}

TEST_F(GeneratorTest, InventoryHasARowPerDeviceWithValidMpans) {
  GeneratorConfig c = Small();
  Generator g(*ref_.areas, *ref_.catalogue, c);
  std::ostringstream csv;
  g.WriteInventoryCsv(csv);
  std::istringstream in(csv.str());
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on");
  std::set<uint64_t> devices;
  uint64_t rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    const auto id = decode::ParseDeviceId(line.substr(0, 23));
    ASSERT_TRUE(id) << line;
    devices.insert(id->value);
    EXPECT_TRUE(decode::MpanCheckDigitOk(line.substr(24, 13))) << line;
  }
  EXPECT_EQ(rows, 2 * c.premises);
  EXPECT_EQ(devices.size(), rows);
}

}  // namespace
}  // namespace smetsmon::gen
