#include "webhook/payload.h"

#include <gtest/gtest.h>

#include "base/fields.h"
#include "webhook/mini_json.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using testing::Json;
using testing::JsonParser;

class PayloadTest : public ::testing::Test {
 protected:
  catalog::AreaTable areas_ = testing::LoadAreas();
  const ProcessingTime now_{1'709'290'000'000};
};

Json Parse(const std::string& body) {
  auto j = JsonParser::Parse(body);
  EXPECT_TRUE(j.has_value()) << "not valid JSON: " << body;
  return j.value_or(Json{});
}

TEST_F(PayloadTest, FiringOutageHasTheAlertmanagerV4Shape) {
  const rules::Finding f =
      testing::AreaFinding(areas_, "power_outage:area=Eastern:1709287200000", 10);
  const Json j = Parse(BuildAlertmanagerPayload(f, /*resolved=*/false, "ukpn",
                                                "https://smetsmon.example", areas_, now_));
  ASSERT_TRUE(j.is_object());
  for (const char* k :
       {"version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
        "commonLabels", "commonAnnotations", "externalURL", "alerts"}) {
    EXPECT_TRUE(j.Has(k)) << k;
  }
  EXPECT_EQ(j["version"].string, "4");
  EXPECT_TRUE(j["truncatedAlerts"].is_number());
  EXPECT_EQ(j["truncatedAlerts"].number, 0);
  EXPECT_EQ(j["status"].string, "firing");
  EXPECT_EQ(j["receiver"].string, "ukpn");
  EXPECT_EQ(j["externalURL"].string, "https://smetsmon.example");
  EXPECT_EQ(j["groupKey"].string, "{}:{finding_id=\"power_outage:area=Eastern:1709287200000\"}");
  EXPECT_EQ(j["groupLabels"]["finding_id"].string, f.id);
  ASSERT_TRUE(j["alerts"].is_array());
  ASSERT_EQ(j["alerts"].array.size(), 1u);
  const Json& a = j["alerts"][0];
  EXPECT_EQ(a["status"].string, "firing");
  const Json& labels = a["labels"];
  EXPECT_EQ(labels["alertname"].string, "smetsmon_power_outage");
  EXPECT_EQ(labels["severity"].string, "critical");
  EXPECT_EQ(labels["kind"].string, "power_outage");
  EXPECT_EQ(labels["area"].string, "Eastern");
  EXPECT_EQ(labels["distributor_id"].string, "10");
  EXPECT_EQ(labels["dno_group"].string, "UK Power Networks");
  EXPECT_EQ(labels["region"].string, "central");
  EXPECT_EQ(labels["scope"].string, "area=Eastern");
  EXPECT_EQ(labels["finding_id"].string, f.id);
  for (const auto& [k, v] : labels.object) EXPECT_TRUE(v.is_string()) << k;
  // One alert per notification: the common labels/annotations are the alert's own.
  EXPECT_EQ(j["commonLabels"].object.size(), labels.object.size());
  EXPECT_EQ(j["commonLabels"]["finding_id"].string, f.id);
  const Json& ann = a["annotations"];
  EXPECT_EQ(ann["summary"].string, "Power outage in Eastern");
  EXPECT_EQ(ann["description"].string, f.explanation);
  EXPECT_EQ(ann["affected_premises"].string, "1234");
  EXPECT_EQ(ann["affected_share"].string, "0.0125");
  EXPECT_EQ(j["commonAnnotations"]["description"].string, f.explanation);
  EXPECT_EQ(a["startsAt"].string, "2024-03-01T10:00:00Z");
  EXPECT_EQ(a["endsAt"].string, "0001-01-01T00:00:00Z");
  EXPECT_EQ(a["generatorURL"].string, "https://smetsmon.example/api/v1/findings");
  EXPECT_EQ(a["fingerprint"].string, FindingFingerprint(f.id));
  EXPECT_EQ(a["fingerprint"].string.size(), 16u);
}

TEST_F(PayloadTest, ResolvedCarriesTheEndTime) {
  rules::Finding f = testing::AreaFinding(areas_, "power_outage:area=London:1", 12);
  f.end = EventTime{1'709'288'100'250};
  const Json j = Parse(BuildAlertmanagerPayload(f, true, "ukpn", "", areas_, now_));
  EXPECT_EQ(j["status"].string, "resolved");
  EXPECT_EQ(j["alerts"][0]["status"].string, "resolved");
  EXPECT_EQ(j["alerts"][0]["endsAt"].string, "2024-03-01T10:15:00.250Z");
  EXPECT_EQ(j["alerts"][0]["generatorURL"].string, "");
  // Resolved without an end: the processing time it was reported.
  f.end.reset();
  const Json k = Parse(BuildAlertmanagerPayload(f, true, "ukpn", "", areas_, now_));
  EXPECT_EQ(k["alerts"][0]["endsAt"].string, FormatRfc3339Utc(now_.ms));
}

TEST_F(PayloadTest, RegionalCommsIncidentSaysItIsNotAPowerCut) {
  const rules::Finding f = testing::CommsIncident("north");
  const Json j = Parse(BuildAlertmanagerPayload(f, false, "enwl", "", areas_, now_));
  const Json& labels = j["alerts"][0]["labels"];
  EXPECT_EQ(labels["alertname"].string, "smetsmon_comms_incident");
  EXPECT_EQ(labels["region"].string, "north");
  EXPECT_FALSE(labels.Has("area"));
  EXPECT_FALSE(labels.Has("dno_group"));
  EXPECT_NE(j["alerts"][0]["annotations"]["summary"].string.find("not a power cut"),
            std::string::npos);
}

TEST_F(PayloadTest, EscapesTextAndStaysStable) {
  rules::Finding f = testing::AreaFinding(areas_, "storm:area=Yorkshire \"x\":5", 23,
                                          rules::Severity::kWarning, rules::FindingKind::kStorm);
  f.explanation = "line one\nline \"two\"\t\\ end \x01";
  const std::string body = BuildAlertmanagerPayload(f, false, "npg", "", areas_, now_);
  const Json j = Parse(body);
  EXPECT_EQ(j["alerts"][0]["annotations"]["description"].string, f.explanation);
  EXPECT_EQ(j["alerts"][0]["labels"]["finding_id"].string, f.id);
  EXPECT_EQ(body, BuildAlertmanagerPayload(f, false, "npg", "", areas_, now_));
  EXPECT_EQ(FindingFingerprint(f.id), FindingFingerprint(f.id));
  EXPECT_NE(FindingFingerprint(f.id), FindingFingerprint(f.id + "x"));
}

TEST(PayloadHelpersTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339Utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(1'709'287'200'001), "2024-03-01T10:00:00.001Z");
  EXPECT_EQ(FormatRfc3339Utc(-1), "1969-12-31T23:59:59.999Z");
}

TEST(PayloadHelpersTest, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(SignatureHeader("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace smetsmon::webhook
