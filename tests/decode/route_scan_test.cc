#include "decode/route_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace smetsmon::decode {
namespace {

constexpr uint64_t kDevice = 0x00DB1234567890A0ULL;
constexpr int64_t kTime = 1687780800000;  // 2023-06-26T12:00:00Z

std::optional<RouteKey> Scan(const std::string& m) {
  Rfc3339DateCache dates;
  RouteKey key;
  if (!ScanRouteKey(m, dates, &key)) return std::nullopt;
  return key;
}

TEST(RouteScanTest, FindsTheDeviceAndAStringOrIntegerEventTime) {
  const auto a = Scan(R"({"alert_id":"x","device_id":"00-DB-12-34-56-78-90-A0",)"
                      R"("alert_code":"8F40","event_time":"2023-06-26T12:00:00Z"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->device.value, kDevice);
  EXPECT_EQ(a->event_ms, kTime);
  const auto b = Scan(R"({"event_time": 1687780800000 , "device_id" : "00-db-12-34-56-78-90-a0"})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->device.value, kDevice);
  EXPECT_EQ(b->event_ms, kTime);
}

TEST(RouteScanTest, AValueThatReadsLikeAKeyIsSkipped) {
  const auto k = Scan(R"({"note":"device_id","device_id":"00-DB-12-34-56-78-90-A0",)"
                      R"("event_time":"2023-06-26T12:00:00.5Z"})");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->device.value, kDevice);
  EXPECT_EQ(k->event_ms, kTime + 500);
}

// The key search tests sixteen positions at a time and the tail byte by byte: a key is found at
// every offset, right up to the end of the message.
TEST(RouteScanTest, FindsTheKeysAtEveryOffset) {
  for (int pad = 0; pad < 48; ++pad) {
    std::string m = "{";
    m.append(static_cast<size_t>(pad), ' ');
    m.append(R"("event_time":1687780800000,"device_id":"00-DB-12-34-56-78-90-A0"})");
    const auto k = Scan(m);
    ASSERT_TRUE(k) << pad;
    EXPECT_EQ(k->device.value, kDevice) << pad;
    EXPECT_EQ(k->event_ms, kTime) << pad;
    // Cut before the device id's value ends: not found, and nothing read past the end.
    EXPECT_FALSE(Scan(m.substr(0, m.size() - 4))) << pad;
  }
}

// Anything the scan cannot read for certain is left to the full decoder (the caller's fallback).
TEST(RouteScanTest, LeavesWhatItCannotReadToTheDecoder) {
  // An escape in the value.
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A\u0030","event_time":1})"));
  // A number that is not an integer, or out of the contract's range.
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":1.5e12})"));
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":-1})"));
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":99999999999999999})"));
  // A key missing, a value of the wrong type or format, a truncated message.
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0"})"));
  EXPECT_FALSE(Scan(R"({"device_id":12,"event_time":1})"));
  EXPECT_FALSE(Scan(R"({"device_id":"FF-FF-FF-FF-FF-FF-FF-FF","event_time":1})"));
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":"yesterday"})"));
  EXPECT_FALSE(Scan(R"({"device_id":"00-DB-12-34-56-78-90-A0","event_time":"2023-06-26T12)"));
  EXPECT_FALSE(Scan(""));
}

}  // namespace
}  // namespace smetsmon::decode
