#include "base/fields.h"

#include <gtest/gtest.h>

namespace smetsmon {
namespace {

TEST(DeviceIdTest, ParsesEui64CaseInsensitively) {
  const auto upper = ParseDeviceId("00-DB-12-34-56-78-90-A0");
  const auto lower = ParseDeviceId("00-db-12-34-56-78-90-a0");
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(upper->value, 0x00DB1234567890A0ULL);
  EXPECT_EQ(upper, lower);
}

TEST(DeviceIdTest, RejectsWrongShapes) {
  EXPECT_FALSE(ParseDeviceId("00-DB-12-34-56-78-90"));        // 7 octets
  EXPECT_FALSE(ParseDeviceId("00-DB-12-34-56-78-90-A0-11"));  // 9 octets
  EXPECT_FALSE(ParseDeviceId("00:DB:12:34:56:78:90:A0"));     // wrong separator
  EXPECT_FALSE(ParseDeviceId("00-DB-12-34-56-78-90-G0"));     // not hex
  EXPECT_FALSE(ParseDeviceId("00DB1234567890A0"));            // no separators
  EXPECT_FALSE(ParseDeviceId(""));
}

TEST(DeviceIdTest, RejectsBroadcastAddress) {
  EXPECT_FALSE(ParseDeviceId("FF-FF-FF-FF-FF-FF-FF-FF"));
  EXPECT_TRUE(ParseDeviceId("FF-FF-FF-FF-FF-FF-FF-FE"));
}

TEST(DeviceIdTest, FormatRoundTrips) {
  const auto id = ParseDeviceId("00-db-12-34-56-78-90-a0");
  EXPECT_EQ(FormatDeviceId(*id), "00-DB-12-34-56-78-90-A0");
}

TEST(AlertCodeTest, DeviceCodesAreFourHexDigitsWithOptionalPrefix) {
  EXPECT_EQ(ParseAlertCode("8F35")->value, 0x8F35u);
  EXPECT_EQ(ParseAlertCode("8f35")->value, 0x8F35u);
  EXPECT_EQ(ParseAlertCode("0x8014")->value, 0x8014u);
  EXPECT_EQ(ParseAlertCode("0X802c")->value, 0x802Cu);
  EXPECT_FALSE(ParseAlertCode("8F4"));    // three characters starting with a digit
  EXPECT_FALSE(ParseAlertCode("8F400"));  // five
  EXPECT_FALSE(ParseAlertCode("0x8F4"));  // prefixed but not four hex digits
  EXPECT_FALSE(ParseAlertCode("0xAD1"));  // a prefix never introduces a DCC code
}

TEST(AlertCodeTest, DccCodesAreLettersAndDigitsStartingWithALetter) {
  const auto ad1 = ParseAlertCode("AD1");
  ASSERT_TRUE(ad1);
  EXPECT_TRUE(ad1->is_dcc());
  EXPECT_EQ(ParseAlertCode("ad1"), ad1);
  EXPECT_TRUE(ParseAlertCode("N24")->is_dcc());
  EXPECT_TRUE(ParseAlertCode("XY")->is_dcc());
  EXPECT_NE(ParseAlertCode("N24"), ParseAlertCode("N2"));
  EXPECT_FALSE(ParseAlertCode("A"));
  EXPECT_FALSE(ParseAlertCode("1AD"));
  EXPECT_FALSE(ParseAlertCode("A-1"));
  EXPECT_FALSE(ParseAlertCode("ABCDE"));
  // Four hex letters are a device code, not a DCC code.
  EXPECT_FALSE(ParseAlertCode("ABCD")->is_dcc());
}

TEST(AlertCodeTest, FormatRoundTrips) {
  for (const char* s : {"8F35", "0002", "AD1", "N24", "XY", "Z999"}) {
    EXPECT_EQ(FormatAlertCode(*ParseAlertCode(s)), s) << s;
  }
}

TEST(TimeTest, ParsesRfc3339UtcForms) {
  constexpr int64_t k20230626T1220 = 1687782000000;  // 2023-06-26T12:20:00Z
  EXPECT_EQ(ParseRfc3339Utc("2023-06-26T12:20:00Z"), k20230626T1220);
  EXPECT_EQ(ParseRfc3339Utc("2023-06-26T12:20:00+00:00"), k20230626T1220);
  EXPECT_EQ(ParseRfc3339Utc("2023-06-26T12:20:00.5Z"), k20230626T1220 + 500);
  EXPECT_EQ(ParseRfc3339Utc("2023-06-26T12:20:00.25+00:00"), k20230626T1220 + 250);
  EXPECT_EQ(ParseRfc3339Utc("2023-06-26T12:20:00.123456789Z"), k20230626T1220 + 123);
  EXPECT_EQ(ParseRfc3339Utc("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Utc("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(TimeTest, RejectsOtherFormats) {
  EXPECT_FALSE(ParseRfc3339Utc("13/11/2019 10:00"));
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26T12:20:00"));              // no zone
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26T12:20:00+01:00"));        // not UTC
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26T12:20:00.Z"));            // empty fraction
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26T12:20:00.1234567890Z"));  // 10 digits
  EXPECT_FALSE(ParseRfc3339Utc("2023-02-29T00:00:00Z"));             // not a leap year
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26T24:00:00Z"));
  EXPECT_FALSE(ParseRfc3339Utc("2023-06-26 12:20:00Z"));
}

TEST(TimeTest, DateCacheGivesTheSameAnswersAsTheUncachedParser) {
  Rfc3339DateCache cache;
  // A sequence that reuses, changes and breaks the cached date; each answer must equal the
  // uncached parser's.
  const char* inputs[] = {
      "2023-06-26T12:20:00Z",   "2023-06-26T23:59:59.999Z", "2023-06-26T24:00:00Z",
      "2023-06-27T00:00:00Z",   "2023-02-29T00:00:00Z",     "2023-02-28T10:00:00Z",
      "2023-02-28X10:00:00Z",   "2023-02-28T10:00:00",      "2024-02-29T01:02:03+00:00",
      "2024-02-29T01:02:03.5z", "1969-12-31T23:59:59Z",     "2024-02-29t01:02:03Z",
  };
  int cached_hits = 0;
  for (const char* in : inputs) {
    const int64_t days_before = cache.days;
    EXPECT_EQ(ParseRfc3339Utc(in, cache), ParseRfc3339Utc(in)) << in;
    cached_hits += cache.days == days_before && days_before >= 0;
  }
  EXPECT_GT(cached_hits, 3);  // the cache was used, not just refilled
  EXPECT_EQ(ParseRfc3339Utc("2024-02-29T01:02:03Z", cache), 1709168523000);
}

TEST(TimeTest, FormatRoundTrips) {
  EXPECT_EQ(FormatRfc3339Utc(1687782000000), "2023-06-26T12:20:00Z");
  EXPECT_EQ(FormatRfc3339Utc(1687782000250), "2023-06-26T12:20:00.250Z");
  EXPECT_EQ(ParseIsoDate("2023-06-26"), 1687782000000 / 86400000);
}

TEST(TimeTest, RoundTripsAcrossTheWholeRange) {
  // Format (gmtime) and parse (own calendar arithmetic) must agree on every day, 1970..2106.
  uint64_t x = 7;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto ms = static_cast<int64_t>((x >> 11) % (uint64_t{4294967295} * 1000));
    ASSERT_EQ(ParseRfc3339Utc(FormatRfc3339Utc(ms)), ms) << FormatRfc3339Utc(ms);
  }
  for (int64_t day = 0; day < 49710; ++day) {
    const int64_t ms = day * kMsPerDay;
    ASSERT_EQ(ParseRfc3339Utc(FormatRfc3339Utc(ms)), ms) << FormatRfc3339Utc(ms);
  }
}

TEST(MpanTest, CheckDigitFollowsThePrimeWeights) {
  // Sample file MPANs: 16 1234567890 0, 23 1234567890 0, 27 1234567890 8.
  EXPECT_TRUE(MpanCheckDigitOk("1612345678900"));
  EXPECT_TRUE(MpanCheckDigitOk("2312345678900"));
  EXPECT_TRUE(MpanCheckDigitOk("2712345678908"));
  EXPECT_FALSE(MpanCheckDigitOk("1612345678901"));
  // The rule itself: first 12 digits weighted by the primes, (sum mod 11) mod 10.
  int sum = 0;
  const int primes[] = {3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43};
  const std::string base = "101234567890";
  for (int i = 0; i < 12; ++i) sum += (base[static_cast<size_t>(i)] - '0') * primes[i];
  EXPECT_TRUE(MpanCheckDigitOk(base + std::to_string((sum % 11) % 10)));
}

TEST(MpanTest, ParsesMpanAndMprn) {
  EXPECT_EQ(ParseMpxn("1612345678900"), 1612345678900ULL);
  EXPECT_EQ(MpanDistributorId(1612345678900ULL), 16);
  EXPECT_EQ(MpanDistributorId(2712345678908ULL), 27);
  EXPECT_FALSE(ParseMpxn("1612345678901"));  // bad check digit
  EXPECT_FALSE(ParseMpxn("16123456789A0"));
  EXPECT_EQ(ParseMpxn("1234567"), 1234567u);  // an MPRN: no check here
  EXPECT_EQ(MpanDistributorId(1234567), 0);
  EXPECT_FALSE(ParseMpxn("12345"));
}

TEST(GspGroupTest, AcceptsUnderscoreLetter) {
  EXPECT_EQ(ParseGspGroup("_N"), 'N');
  EXPECT_EQ(ParseGspGroup("_a"), 'A');
  EXPECT_FALSE(ParseGspGroup("N"));
  EXPECT_FALSE(ParseGspGroup("_Q"));
}

TEST(StableHashTest, IsStableAndSpreads) {
  EXPECT_EQ(StableHash64("abc"), StableHash64(std::string("abc")));
  EXPECT_NE(StableHash64("abc"), StableHash64("abd"));
  EXPECT_NE(StableHash64(""), StableHash64("a"));
  EXPECT_NE(StableHash64("12345678"), StableHash64("123456789"));
}

}  // namespace
}  // namespace smetsmon
