#include "aggregate/device_state.h"

#include <gtest/gtest.h>

namespace smetsmon::aggregate {
namespace {

constexpr int64_t kT0 = 1687780800000;  // 2023-06-26T12:00:00Z
constexpr AlertCode k8F40{0x8F40};
constexpr AlertCode k8014{0x8014};
constexpr AlertCode kAd1{0x10000 + 1};  // any DCC-range value
constexpr AlertCode k8F36{0x8F36};

EventTime H(double hours) { return {kT0 + static_cast<int64_t>(hours * kMsPerHour)}; }

void Add(DeviceState& s, EventTime t, AlertCode c = k8F40, uint32_t n = 1) {
  s.Apply(t, c, n, false, 0, false, false);
}

TEST(DeviceStateTest, CountsWeightedAlertsPerHour) {
  DeviceState s{};
  Add(s, H(0));
  Add(s, H(0.5), k8F40, 12);
  Add(s, H(1.2));
  EXPECT_EQ(s.AlertsIn24h(H(1.2)), 14u);
}

TEST(DeviceStateTest, TwentyFourHourWindowSlides) {
  DeviceState s{};
  Add(s, H(0));
  Add(s, H(23));
  EXPECT_EQ(s.AlertsIn24h(H(23)), 2u);
  EXPECT_EQ(s.AlertsIn24h(H(24)), 1u);  // the hour-0 bucket left the window
  EXPECT_EQ(s.AlertsIn24h(H(47.5)), 0u);
  Add(s, H(24));
  EXPECT_EQ(s.AlertsIn24h(H(24)), 2u);
}

TEST(DeviceStateTest, MovingFarAheadClearsOldHours) {
  DeviceState s{};
  for (int h = 0; h < 24; ++h) Add(s, H(h), k8F40, 3);
  EXPECT_EQ(s.AlertsIn24h(H(23)), 72u);
  Add(s, H(100));
  EXPECT_EQ(s.AlertsIn24h(H(100)), 1u);
}

TEST(DeviceStateTest, LateAlertsWithinTheRingCountOlderOnesOnlyUpdateHistory) {
  DeviceState s{};
  Add(s, H(30));
  Add(s, H(10), k8014);  // within the last 24 hours of the newest alert
  EXPECT_EQ(s.AlertsIn24h(H(30)), 2u);
  Add(s, H(2), k8F36);  // older than the ring
  EXPECT_EQ(s.AlertsIn24h(H(30)), 2u);
  EXPECT_EQ(s.last_code[0], k8F40.value);
  EXPECT_EQ(s.last_code[1], k8014.value);  // 8F36 is older than both
}

TEST(DeviceStateTest, HourlyCountsSaturate) {
  DeviceState s{};
  Add(s, H(0), k8F40, 200);
  Add(s, H(0), k8F40, 200);
  EXPECT_EQ(s.AlertsIn24h(H(0)), 255u);
}

TEST(DeviceStateTest, KeepsTheLastTwoAlertsNewestFirst) {
  DeviceState s{};
  Add(s, H(1), k8F40);
  Add(s, H(3), k8014);
  Add(s, H(2), k8F36);  // out of order: between the two
  EXPECT_EQ(s.last_code[0], k8014.value);
  EXPECT_EQ(s.last_time_s[0], static_cast<uint32_t>(H(3).ms / 1000));
  EXPECT_EQ(s.last_code[1], k8F36.value);
  EXPECT_EQ(s.last_seen_ms(), H(3).ms);
}

TEST(DeviceStateTest, LastVoltageComesFromTheNewestAlertCarryingOne) {
  DeviceState s{};
  EXPECT_FALSE(s.has_voltage());
  s.Apply(H(1), k8F40, 1, true, 2561, false, false);
  s.Apply(H(0.5), k8F40, 1, true, 2599, false, false);  // older: ignored
  EXPECT_EQ(s.last_voltage_dv(), 2561);
  s.Apply(H(2), k8F40, 1, true, 0, false, false);
  EXPECT_TRUE(s.has_voltage());
  EXPECT_EQ(s.last_voltage_dv(), 0);
}

TEST(DeviceStateTest, OutageOpensAndCloses) {
  DeviceState s{};
  s.Apply(H(1), kAd1, 1, false, 0, /*outage_start=*/true, false);
  EXPECT_EQ(s.outage_start_s, static_cast<uint32_t>(H(1).ms / 1000));
  s.Apply(H(0.5), k8F36, 1, false, 0, false, /*outage_end=*/true);  // before the outage
  EXPECT_NE(s.outage_start_s, 0u);
  s.Apply(H(1.5), k8F36, 1, false, 0, false, true);
  EXPECT_EQ(s.outage_start_s, 0u);
}

TEST(DeviceStateTest, FirstSeenDayIsTheEarliest) {
  DeviceState s{};
  Add(s, H(48));
  Add(s, H(0));
  EXPECT_EQ(s.first_seen_day, static_cast<uint16_t>(kT0 / kMsPerDay));
}

}  // namespace
}  // namespace smetsmon::aggregate
