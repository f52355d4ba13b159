#include "decode/decoder.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include "base/fields.h"
#include "testing/fixtures.h"

namespace smetsmon::decode {
namespace {

constexpr ProcessingTime kNow{1700000000000};  // 2023-11-14, after every sample event

class DecoderTest : public ::testing::Test {
 protected:
  DecoderTest() : ref_(testing::LoadTestReference()) {}

  RejectReason Decode(const std::string& json, AlertEvent* e = nullptr, ProcessingTime now = kNow) {
    AlertEvent scratch;
    Decoder d({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), ref_.inventory.get()});
    return d.Decode(json, now, e ? e : &scratch);
  }
  std::string With(const std::string& extra) {
    return R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40",)"
           R"("event_time":"2023-06-26T12:00:00Z")" +
           (extra.empty() ? "" : "," + extra) + "}";
  }
  AreaId AreaByDistributor(int id) const { return ref_.areas->ByDistributorId(id); }

  catalog::ReferenceData ref_;
};

TEST_F(DecoderTest, SampleFileLinesGiveTheirExpectedOutcome) {
  const auto lines = testing::ReadLines(testing::SamplePath());
  ASSERT_EQ(lines.size(), 13u);
  int accepted = 0;
  for (const std::string& line : lines) {
    AlertEvent e;
    const RejectReason r = Decode(line, &e);
    const size_t at = line.find("\"_expect\":\"");
    if (at == std::string::npos) {
      EXPECT_EQ(r, RejectReason::kNone) << line;
      ++accepted;
    } else {
      const size_t from = at + 11;
      const std::string expect = line.substr(from, line.find('"', from) - from);
      EXPECT_EQ(RejectReasonName(r), expect) << line;
    }
  }
  EXPECT_EQ(accepted, 6);  // five distinct events plus one redelivery (dedup is not the decoder's)
}

TEST_F(DecoderTest, StringsReadInPlaceOrUnescapedGiveTheSameValues) {
  // Plain strings are taken from the input bytes; escaped ones are unescaped. Whitespace around
  // values and escapes that spell ordinary characters must not change the decoded event.
  AlertEvent plain, spaced, escaped;
  ASSERT_EQ(Decode(With(R"("dmc":"DMC-A","cohort":"C1")"), &plain), RejectReason::kNone);
  ASSERT_EQ(Decode(R"({ "alert_id" : "a" , "device_id" :  "00-DB-12-34-56-78-90-A0"  ,)"
                   "\n"
                   R"("alert_code":"8F40"	,"event_time":"2023-06-26T12:00:00Z"
, "dmc" : "DMC-A" ,"cohort":"C1"  } )",
                   &spaced),
            RejectReason::kNone);
  ASSERT_EQ(Decode(R"({"alert_id":"\u0061","device_id":"00-DB-12-34-56-78-90-A0",)"
                   R"("alert_code":"8F\u0034\u0030","event_time":"2023-06-26T12:00:00Z",)"
                   R"("dmc":"DMC\u002dA","cohort":"C\u0031"})",
                   &escaped),
            RejectReason::kNone);
  for (const AlertEvent* e : {&spaced, &escaped}) {
    EXPECT_EQ(e->alert_fingerprint, plain.alert_fingerprint);
    EXPECT_EQ(e->device, plain.device);
    EXPECT_EQ(e->code, plain.code);
    EXPECT_EQ(e->event_time, plain.event_time);
    EXPECT_EQ(e->dmc, plain.dmc);
    EXPECT_EQ(e->cohort, plain.cohort);
  }
  // An escaped quote inside a value is part of the string, not its end.
  EXPECT_EQ(Decode(With(R"("dmc":"A\"B")")), RejectReason::kNone);
  EXPECT_EQ(Decode(With(R"("alert_code":"8F4\"")")), RejectReason::kBadAlertCode);
  // A string value where a number belongs, and a number where a string belongs.
  EXPECT_EQ(Decode(With(R"("dmc":7)")), RejectReason::kWrongType);
}

TEST_F(DecoderTest, AnEscapeAnywhereInALongStringIsUnescaped) {
  // The in-place path scans for backslashes eight bytes at a time with a byte-wise tail: an
  // escape at any offset, in the words or the tail, must send the string through unescaping.
  const std::string id = "90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:17";  // 50 bytes
  AlertEvent plain;
  ASSERT_EQ(Decode(With(R"("cohort":"C1")").replace(13, 1, id), &plain), RejectReason::kNone);
  for (size_t at = 0; at < id.size(); ++at) {
    std::string escaped = id;
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned char>(id[at]));
    escaped.replace(at, 1, hex);
    AlertEvent e;
    ASSERT_EQ(Decode(With(R"("cohort":"C1")").replace(13, 1, escaped), &e), RejectReason::kNone)
        << escaped;
    EXPECT_EQ(e.alert_fingerprint, plain.alert_fingerprint) << "escape at " << at;
  }
  EXPECT_NE(plain.alert_fingerprint, StableHash64("a"));
  // Times are strings too: an escaped time decodes to the same instant, a time of the wrong
  // type is named as such, and broken JSON in its place is not JSON.
  AlertEvent escaped_time;
  ASSERT_EQ(Decode(R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40",)"
                   R"("event_time":"2023-06-26T12:00:00\u005a"})",
                   &escaped_time),
            RejectReason::kNone);
  EXPECT_EQ(escaped_time.event_time.ms, *ParseRfc3339Utc("2023-06-26T12:00:00Z"));
  EXPECT_EQ(Decode(With(R"("dcc_time":true)")), RejectReason::kWrongType);
  EXPECT_EQ(Decode(With(R"("dcc_time":{"a":1})")), RejectReason::kWrongType);
  EXPECT_EQ(Decode(With(R"("dcc_time":-5)")), RejectReason::kBadTime);
  EXPECT_EQ(Decode(With(R"("dcc_time":1.5)")), RejectReason::kBadTime);
  EXPECT_EQ(Decode(With(R"("dcc_time":nul)")), RejectReason::kNotJson);
}

TEST_F(DecoderTest, FirstSampleEventDecodesEveryField) {
  const auto lines = testing::ReadLines(testing::SamplePath());
  AlertEvent e;
  ASSERT_EQ(Decode(lines[0], &e), RejectReason::kNone);
  EXPECT_EQ(e.device, *ParseDeviceId("00-DB-12-34-56-78-90-A0"));
  EXPECT_EQ(e.code, *ParseAlertCode("8F40"));
  EXPECT_EQ(e.event_time.ms, *ParseRfc3339Utc("2023-06-26T12:00:00Z"));
  EXPECT_TRUE(e.present & AlertEvent::kHasDccTime);
  EXPECT_EQ(e.dcc_time.ms - e.event_time.ms, 4250);
  EXPECT_EQ(e.generation, Generation::kSmets1);
  EXPECT_EQ(e.mpxn, 1612345678900ULL);
  EXPECT_EQ(e.area, AreaByDistributor(16));  // North West from the MPAN
  EXPECT_EQ(ref_.dmcs->Name(e.dmc.value), "HONEYWELL-ELSTER-AS300");
  EXPECT_EQ(ref_.cohorts->Name(e.cohort.value), "IOC");
  EXPECT_EQ(e.voltage_dv, 2561);
  EXPECT_EQ(e.throttled_count, 1u);
  EXPECT_EQ(e.alert_fingerprint,
            StableHash64("90-B3-D5-1F-30-02-00-00:00-DB-12-34-56-78-90-A0:1001"));
}

TEST_F(DecoderTest, RedeliveryHasTheSameFingerprintAndDeviceDespiteCase) {
  const auto lines = testing::ReadLines(testing::SamplePath());
  AlertEvent first, redelivered, lower_case;
  ASSERT_EQ(Decode(lines[0], &first), RejectReason::kNone);
  ASSERT_EQ(Decode(lines[5], &redelivered), RejectReason::kNone);
  ASSERT_EQ(Decode(lines[1], &lower_case), RejectReason::kNone);
  EXPECT_EQ(first.alert_fingerprint, redelivered.alert_fingerprint);
  EXPECT_EQ(first.device, lower_case.device);
  EXPECT_EQ(lower_case.code.value, 0x8014u);  // "0x8014"
  EXPECT_EQ(lower_case.event_time.ms, 1687780860000);
}

TEST_F(DecoderTest, GspGroupOverridesMpanAndIdnoNeedsIt) {
  const auto lines = testing::ReadLines(testing::SamplePath());
  AlertEvent e;
  ASSERT_EQ(Decode(lines[4], &e), RejectReason::kNone);  // MPAN 27 (IDNO), gsp_group _C
  EXPECT_EQ(e.area, ref_.areas->ByGspGroup('C'));
  EXPECT_EQ(e.throttled_count, 12u);
  ASSERT_EQ(Decode(With(R"("mpxn":"2712345678908")"), &e), RejectReason::kNone);
  EXPECT_EQ(e.area, kUnknownArea);  // IDNO without gsp_group or inventory
  ASSERT_EQ(Decode(With(R"("mpxn":"1612345678900","gsp_group":"_A")"), &e), RejectReason::kNone);
  EXPECT_EQ(e.area, ref_.areas->ByGspGroup('A'));
}

TEST_F(DecoderTest, DccAlertCodeWithGspGroupOnly) {
  const auto lines = testing::ReadLines(testing::SamplePath());
  AlertEvent e;
  ASSERT_EQ(Decode(lines[3], &e), RejectReason::kNone);
  EXPECT_TRUE(e.code.is_dcc());
  EXPECT_EQ(FormatAlertCode(e.code), "AD1");
  EXPECT_EQ(e.area, ref_.areas->ByGspGroup('N'));
  EXPECT_EQ(e.generation, Generation::kSmets2);  // default when absent and no inventory
}

TEST_F(DecoderTest, InventoryFillsMissingFieldsButNeverOverridesTheEvent) {
  ref_.inventory = std::make_unique<catalog::Inventory>(*ref_.areas, *ref_.dmcs, *ref_.cohorts);
  catalog::InventoryRecord rec;
  rec.area = AreaByDistributor(12);
  rec.generation = Generation::kSmets1;
  rec.dmc = DmcId{ref_.dmcs->Intern("MDS-ELSTER-A1140")};
  rec.cohort = CohortId{ref_.cohorts->Intern("MOC")};
  rec.mpxn = 1212345678901ULL;
  ref_.inventory->Add(*ParseDeviceId("00-DB-12-34-56-78-90-A0"), rec);
  AlertEvent e;
  ASSERT_EQ(Decode(With(""), &e), RejectReason::kNone);
  EXPECT_EQ(e.area, AreaByDistributor(12));
  EXPECT_EQ(e.generation, Generation::kSmets1);
  EXPECT_EQ(e.dmc, rec.dmc);
  EXPECT_EQ(e.cohort, rec.cohort);
  EXPECT_EQ(e.mpxn, rec.mpxn);
  ASSERT_EQ(Decode(With(R"("smets":2,"gsp_group":"_A","dmc":"X","cohort":"IOC")"), &e),
            RejectReason::kNone);
  EXPECT_EQ(e.area, ref_.areas->ByGspGroup('A'));
  EXPECT_EQ(e.generation, Generation::kSmets2);
  EXPECT_EQ(ref_.dmcs->Name(e.dmc.value), "X");
  EXPECT_EQ(ref_.cohorts->Name(e.cohort.value), "IOC");
}

TEST_F(DecoderTest, EventTimeAsIntegerMilliseconds) {
  AlertEvent e;
  const std::string json = R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0",)"
                           R"("alert_code":"8F40","event_time":1687780800123})";
  ASSERT_EQ(Decode(json, &e), RejectReason::kNone);
  EXPECT_EQ(e.event_time.ms, 1687780800123);
}

TEST_F(DecoderTest, RejectsEachKindOfInvalidInput) {
  struct Case {
    std::string json;
    RejectReason reason;
  };
  const std::vector<Case> cases = {
      {R"({"alert_id":"x")", RejectReason::kNotJson},
      {"", RejectReason::kNotJson},
      {"nonsense", RejectReason::kNotJson},
      {R"({"a":1} {"b":2})", RejectReason::kNotJson},
      {R"([{"a":1}])", RejectReason::kNotObject},
      {R"("string")", RejectReason::kNotObject},
      {R"(42)", RejectReason::kNotObject},
      {R"({"device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1})",
       RejectReason::kMissingField},
      {R"({"alert_id":"a","alert_code":"8F40","event_time":1})", RejectReason::kMissingField},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","event_time":1})",
       RejectReason::kMissingField},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40"})",
       RejectReason::kMissingField},
      {With(R"("smets":"one")"), RejectReason::kWrongType},
      {With(R"("smets":1.5)"), RejectReason::kWrongType},
      {With(R"("mpxn":1612345678900)"), RejectReason::kWrongType},
      {With(R"("voltage_dv":"2530")"), RejectReason::kWrongType},
      {With(R"("dcc_time":true)"), RejectReason::kWrongType},
      {R"({"alert_id":7,"device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1})",
       RejectReason::kWrongType},
      {R"({"alert_id":"","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1})",
       RejectReason::kBadAlertId},
      {R"({"alert_id":")" + std::string(129, 'x') +
           R"(","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1})",
       RejectReason::kBadAlertId},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90","alert_code":"8F40","event_time":1})",
       RejectReason::kBadDeviceId},
      {R"({"alert_id":"a","device_id":"FF-FF-FF-FF-FF-FF-FF-FF","alert_code":"8F40","event_time":1})",
       RejectReason::kBadDeviceId},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F4","event_time":1})",
       RejectReason::kBadAlertCode},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":"13/11/2019 10:00"})",
       RejectReason::kBadTime},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":-5})",
       RejectReason::kBadTime},
      {R"({"alert_id":"a","device_id":"00-DB-12-34-56-78-90-A0","alert_code":"8F40","event_time":1.5})",
       RejectReason::kBadTime},
      {With(R"("dcc_time":"yesterday")"), RejectReason::kBadTime},
      {With(R"("mpxn":"1612345678901")"), RejectReason::kBadMpxn},
      {With(R"("mpxn":"16-1234")"), RejectReason::kBadMpxn},
      {With(R"("smets":3)"), RejectReason::kBadValue},
      {With(R"("gsp_group":"_Z")"), RejectReason::kBadValue},
      {With(R"("throttled_count":0)"), RejectReason::kBadValue},
      {With(R"("voltage_dv":-1)"), RejectReason::kBadValue},
      {With(R"("dmc":")" + std::string(65, 'd') + "\""), RejectReason::kBadValue},
      {With(R"("cohort":")" + std::string(17, 'c') + "\""), RejectReason::kBadValue},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RejectReasonName(Decode(c.json)), RejectReasonName(c.reason)) << c.json;
  }
}

TEST_F(DecoderTest, FutureTimeIsMeasuredAgainstTheMonitorsClock) {
  const int64_t event_ms = *ParseRfc3339Utc("2023-06-26T12:00:00Z");
  EXPECT_EQ(Decode(With(""), nullptr, ProcessingTime{event_ms - kMsPerHour}), RejectReason::kNone);
  EXPECT_EQ(Decode(With(""), nullptr, ProcessingTime{event_ms - kMsPerHour - 1}),
            RejectReason::kFutureTime);
}

TEST_F(DecoderTest, ThrottledCountAboveTheConfiguredMaximumIsBadValue) {
  const auto decode_with = [&](uint32_t max, uint64_t count, AlertEvent* e) {
    Decoder d({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), ref_.inventory.get(), max});
    return d.Decode(With(absl::StrCat(R"("throttled_count":)", count)), kNow, e);
  };
  AlertEvent e;
  // The default bound: its maximum is accepted with its weight, one more is refused.
  ASSERT_EQ(Decode(With(absl::StrCat(R"("throttled_count":)", kDefaultMaxThrottledCount)), &e),
            RejectReason::kNone);
  EXPECT_EQ(e.throttled_count, kDefaultMaxThrottledCount);
  EXPECT_EQ(Decode(With(absl::StrCat(R"("throttled_count":)", kDefaultMaxThrottledCount + 1))),
            RejectReason::kBadValue);
  // The value that used to wrap 32-bit window cells in three messages.
  EXPECT_EQ(Decode(With(R"("throttled_count":4294967295)")), RejectReason::kBadValue);
  // A configured bound moves the edge.
  ASSERT_EQ(decode_with(50, 50, &e), RejectReason::kNone);
  EXPECT_EQ(e.throttled_count, 50u);
  EXPECT_EQ(decode_with(50, 51, &e), RejectReason::kBadValue);
}

TEST_F(DecoderTest, TooLargeMessagesAreRejectedBeforeParsing) {
  const std::string big = With(R"("pad":")" + std::string(kMaxMessageBytes, 'p') + "\"");
  EXPECT_EQ(Decode(big), RejectReason::kTooLarge);
}

TEST_F(DecoderTest, UnknownFieldsAndNestedValuesAreIgnored) {
  AlertEvent e;
  EXPECT_EQ(Decode(With(R"("extra":{"nested":[1,2,{"x":null}]},"z":"q")"), &e),
            RejectReason::kNone);
  EXPECT_EQ(e.code.value, 0x8F40u);
}

TEST_F(DecoderTest, EscapedStringsAreUnescaped) {
  AlertEvent e;
  ASSERT_EQ(Decode(With(R"("dmc":"A\u0042C")"), &e), RejectReason::kNone);
  EXPECT_EQ(ref_.dmcs->Name(e.dmc.value), "ABC");
}

TEST_F(DecoderTest, DecodePaddedParsesInPlaceWithinALargerBuffer) {
  const std::string two =
      With("") + "\n" + With(R"("smets":1)") + std::string(Decoder::padding(), ' ');
  Decoder d({ref_.areas.get(), ref_.dmcs.get(), ref_.cohorts.get(), nullptr});
  const size_t first_len = two.find('\n');
  AlertEvent e;
  ASSERT_EQ(d.DecodePadded(std::string_view(two.data(), first_len), two.size(), kNow, &e),
            RejectReason::kNone);
  EXPECT_EQ(e.generation, Generation::kSmets2);
  const char* second = two.data() + first_len + 1;
  const size_t second_len = two.size() - Decoder::padding() - first_len - 1;
  ASSERT_EQ(
      d.DecodePadded(std::string_view(second, second_len), two.size() - first_len - 1, kNow, &e),
      RejectReason::kNone);
  EXPECT_EQ(e.generation, Generation::kSmets1);
}

TEST_F(DecoderTest, GarbageNeverCrashes) {
  // Deterministic pseudo-random mutations of a valid event: every outcome is a reason, no crash.
  const std::string base = With(R"("mpxn":"1612345678900","voltage_dv":2561,"dmc":"D")");
  uint64_t x = 42;
  int rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string m = base;
    for (int k = 0; k < 3; ++k) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      m[(x >> 33) % m.size()] = static_cast<char>((x >> 20) & 0xFF);
    }
    const RejectReason r = Decode(m);
    rejected += r != RejectReason::kNone;
    ASSERT_LT(static_cast<int>(r), kRejectReasonCount);
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace smetsmon::decode
