#include "webhook/config.h"

#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using ::testing::HasSubstr;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir("config");
    secret_file_ = dir_ + "/ukpn.key";
    smetsmon::testing::WriteFile(secret_file_, "hunter2\n");
    ::setenv("SMETSMON_TEST_WEBHOOK_SECRET", "from-env", 1);
    ::unsetenv("SMETSMON_TEST_UNSET_SECRET");
  }

  absl::StatusOr<WebhookConfig> Load(const std::string& yaml) {
    const YAML::Node root = YAML::Load(yaml);
    return LoadWebhookConfig(root["webhooks"], "smetsmon.yaml", areas_);
  }

  // A one-receiver config with `extra` lines added to the receiver (indented 6).
  std::string One(const std::string& extra, const std::string& secret_line = "") {
    return "webhooks:\n"                // line 1
           "  spool_dir: /tmp/spool\n"  // line 2
           "  receivers:\n"             // line 3
           "    - name: ukpn\n" +       // line 4
           (secret_line.empty() ? "      secret_file: " + secret_file_ : secret_line) +
           "\n" + extra;  // line 5, then extra from line 6
  }

  std::string Error(const std::string& yaml) {
    auto c = Load(yaml);
    EXPECT_FALSE(c.ok()) << yaml;
    return std::string(c.status().message());
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  std::string dir_, secret_file_;
};

TEST_F(ConfigTest, ReadsAFullSection) {
  const std::string yaml =
      "webhooks:\n"
      "  spool_dir: /var/lib/smetsmon/webhooks\n"
      "  max_age: 24h\n"
      "  external_url: https://smetsmon.example/\n"
      "  backoff: {initial: 2s, max: 10m, multiplier: 3, jitter: 0.1}\n"
      "  circuit_breaker: {failures_to_open: 7, open_for: 2m}\n"
      "  receivers:\n"
      "    - name: ukpn\n"
      "      url: https://hooks.ukpn.example:8443/smetsmon?x=1\n"
      "      areas: [UK Power Networks, 16]\n"
      "      kinds: [power_outage, storm, comms_incident]\n"
      "      min_severity: warning\n"
      "      secret_file: " +
      secret_file_ +
      "\n"
      "      connect_timeout: 3s\n"
      "      request_timeout: 20s\n"
      "      tls: {verify: false, ca_file: " +
      secret_file_ +
      "}\n"
      "      send_resolved: false\n"
      "    - name: enwl\n"
      "      url: http://[::1]/hook\n"
      "      secret_env: SMETSMON_TEST_WEBHOOK_SECRET\n";
  auto c = Load(yaml);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->spool_dir, "/var/lib/smetsmon/webhooks");
  EXPECT_EQ(c->max_age_ms, 24 * kMsPerHour);
  EXPECT_EQ(c->external_url, "https://smetsmon.example");
  EXPECT_EQ(c->backoff.initial_ms, 2'000);
  EXPECT_EQ(c->backoff.max_ms, 600'000);
  EXPECT_EQ(c->backoff.multiplier, 3);
  EXPECT_EQ(c->backoff.jitter, 0.1);
  EXPECT_EQ(c->circuit_breaker.failures_to_open, 7);
  EXPECT_EQ(c->circuit_breaker.open_for_ms, 120'000);
  ASSERT_EQ(c->receivers.size(), 2u);
  const ReceiverConfig& u = c->receivers[0];
  EXPECT_EQ(u.name, "ukpn");
  EXPECT_TRUE(u.url.tls);
  EXPECT_EQ(u.url.host, "hooks.ukpn.example");
  EXPECT_EQ(u.url.port, 8443);
  EXPECT_EQ(u.url.target, "/smetsmon?x=1");
  // UK Power Networks = Eastern (10), London (12), South Eastern (19); plus North West (16).
  std::vector<int> ids;
  for (AreaId a : u.areas) ids.push_back(areas_.area(a).distributor_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int>{10, 12, 16, 19}));
  EXPECT_EQ(u.kinds.size(), 3u);
  EXPECT_EQ(u.min_severity, rules::Severity::kWarning);
  EXPECT_EQ(u.secret, "hunter2");  // trailing newline dropped
  EXPECT_EQ(u.connect_timeout_ms, 3'000);
  EXPECT_EQ(u.request_timeout_ms, 20'000);
  EXPECT_FALSE(u.tls.verify);
  EXPECT_EQ(u.tls.ca_file, secret_file_);
  EXPECT_FALSE(u.send_resolved);
  const ReceiverConfig& e = c->receivers[1];
  EXPECT_EQ(e.secret, "from-env");
  EXPECT_FALSE(e.url.tls);
  EXPECT_EQ(e.url.host, "::1");
  EXPECT_EQ(e.url.port, 80);
  EXPECT_EQ(e.url.target, "/hook");
}

TEST_F(ConfigTest, Defaults) {
  auto c = Load(One("      url: http://127.0.0.1:9000\n"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_age_ms, 48 * kMsPerHour);
  EXPECT_EQ(c->backoff.initial_ms, 1'000);
  EXPECT_EQ(c->backoff.max_ms, 300'000);
  EXPECT_EQ(c->backoff.multiplier, 2.0);
  EXPECT_EQ(c->backoff.jitter, 0.2);
  EXPECT_EQ(c->circuit_breaker.failures_to_open, 5);
  EXPECT_EQ(c->circuit_breaker.open_for_ms, 60'000);
  const ReceiverConfig& r = c->receivers[0];
  EXPECT_TRUE(r.areas.empty());
  EXPECT_TRUE(r.kinds.empty());
  EXPECT_EQ(r.min_severity, rules::Severity::kInfo);
  EXPECT_TRUE(r.tls.verify);
  EXPECT_TRUE(r.send_resolved);
  EXPECT_EQ(r.url.target, "/");
  EXPECT_EQ(r.url.port, 9000);
}

TEST_F(ConfigTest, AbsentSectionHasNoReceivers) {
  const YAML::Node root = YAML::Load("http: {listen: 127.0.0.1:0}\n");
  auto c = LoadWebhookConfig(root["webhooks"], "smetsmon.yaml", areas_);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->receivers.empty());
}

TEST_F(ConfigTest, ErrorsNameFileLineAndField) {
  struct Case {
    std::string yaml, field, line, what;
  };
  const std::string url = "      url: http://127.0.0.1:9000\n";  // line 6
  const std::vector<Case> cases = {
      {One(url + "      areas: [10, Nowhere Power]\n"), "webhooks.receivers[0].areas",
       ":7:", "unknown DNO group or area 'Nowhere Power'"},
      {One(url + "      areas: [24]\n"), "webhooks.receivers[0].areas",
       ":7:", "unknown distributor id 24"},
      {One("      url: ftp://example.com/x\n"), "webhooks.receivers[0].url",
       ":6:", "not an http:// or https:// URL"},
      {One("      url: http://example.com:99999/x\n"), "webhooks.receivers[0].url",
       ":6:", "bad port"},
      {One("      url: https://user:pw@example.com/x\n"), "webhooks.receivers[0].url",
       ":6:", "user info"},
      {One("      url: http:///x\n"), "webhooks.receivers[0].url", ":6:", "no host"},
      {One(url, "      secret_file: " + dir_ + "/missing.key"), "webhooks.receivers[0].secret_file",
       ":5:", "cannot read"},
      {One(url, "      secret_env: SMETSMON_TEST_UNSET_SECRET"), "webhooks.receivers[0].secret_env",
       ":5:", "not set"},
      {One(url, "      secret: inline-is-wrong"), "webhooks.receivers[0].secret",
       ":5:", "must not be written inline"},
      {One(url + "      kinds: [power_cut]\n"), "webhooks.receivers[0].kinds",
       ":7:", "unknown finding kind 'power_cut'"},
      {One(url + "      min_severity: urgent\n"), "webhooks.receivers[0].min_severity",
       ":7:", "info, warning or critical"},
      {One(url + "      request_timeout: soon\n"), "webhooks.receivers[0].request_timeout",
       ":7:", "duration"},
      {One(url + "      tls: {ca_file: /nonexistent/ca.pem}\n"),
       "webhooks.receivers[0].tls.ca_file", ":7:", "cannot read"},
      {One(url + "      min_severty: warning\n"), "webhooks.receivers[0].min_severty",
       ":7:", "not a known setting"},
      {One("      areas: [10]\n"), "webhooks.receivers[0].url", "", "is required"},
      {"webhooks:\n  receivers:\n    - name: a\n      url: http://h/\n      secret_env: "
       "SMETSMON_TEST_WEBHOOK_SECRET\n",
       "webhooks.spool_dir", ":2:", "is required"},
      {"webhooks:\n  spool_dir: /tmp/x\n  backoff: {initial: 5s, max: 1s}\n",
       "webhooks.backoff.max", ":3:", "at least"},
      {"webhooks:\n  spool_dir: /tmp/x\n  backoff: {jitter: 1.5}\n", "webhooks.backoff.jitter",
       ":3:", "between 0 and 1"},
      {"webhooks:\n  spool_dir: /tmp/x\n  circuit_breaker: {failures_to_open: 0}\n",
       "webhooks.circuit_breaker.failures_to_open", ":3:", "at least 1"},
      {"webhooks:\n  spool_dir: /tmp/x\n  receivers:\n"
       "    - {name: a, url: 'http://h/', secret_env: SMETSMON_TEST_WEBHOOK_SECRET}\n"
       "    - {name: a, url: 'http://h/', secret_env: SMETSMON_TEST_WEBHOOK_SECRET}\n",
       "webhooks.receivers[1].name", ":5:", "used by another receiver"},
  };
  for (const Case& c : cases) {
    const std::string msg = Error(c.yaml);
    EXPECT_THAT(msg, HasSubstr("smetsmon.yaml")) << c.yaml;
    EXPECT_THAT(msg, HasSubstr("field '" + c.field + "'")) << c.yaml;
    EXPECT_THAT(msg, HasSubstr(c.line)) << c.yaml;
    EXPECT_THAT(msg, HasSubstr(c.what)) << c.yaml;
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("hunter2")));
  }
}

TEST_F(ConfigTest, CommsIncidentsGoOnlyToReceiversThatAskForThem) {
  ReceiverConfig all = testing::MakeReceiver("all", "http://127.0.0.1:1/");
  ReceiverConfig asked = all;
  asked.kinds = {rules::FindingKind::kCommsIncident};
  const rules::Finding comms = testing::CommsIncident("north");
  EXPECT_FALSE(Matches(all, comms, areas_));
  EXPECT_TRUE(Matches(asked, comms, areas_));
  const rules::Finding outage = testing::AreaFinding(areas_, "o", 10);
  EXPECT_TRUE(Matches(all, outage, areas_));
  EXPECT_FALSE(Matches(asked, outage, areas_));
}

TEST_F(ConfigTest, MatchesByAreaRegionAndSeverity) {
  ReceiverConfig ukpn = testing::MakeReceiver("ukpn", "http://127.0.0.1:1/");
  ukpn.areas = {areas_.ByDistributorId(10), areas_.ByDistributorId(12), areas_.ByDistributorId(19)};
  std::sort(ukpn.areas.begin(), ukpn.areas.end());
  ukpn.min_severity = rules::Severity::kWarning;
  ukpn.kinds = {rules::FindingKind::kPowerOutage, rules::FindingKind::kCommsIncident,
                rules::FindingKind::kStorm};
  EXPECT_TRUE(Matches(ukpn, testing::AreaFinding(areas_, "a", 12), areas_));
  EXPECT_FALSE(Matches(ukpn, testing::AreaFinding(areas_, "b", 16), areas_));  // North West
  EXPECT_FALSE(
      Matches(ukpn, testing::AreaFinding(areas_, "c", 10, rules::Severity::kInfo), areas_));
  // Regional: London (12) is in the south region, none of UKPN's areas is in the north.
  EXPECT_TRUE(Matches(ukpn, testing::CommsIncident("south"), areas_));
  EXPECT_FALSE(Matches(ukpn, testing::CommsIncident("north"), areas_));
  // National (a SMETS1 DMC storm has no area or region): everyone's concern.
  rules::Finding dmc_storm = testing::CommsIncident("");
  dmc_storm.kind = rules::FindingKind::kStorm;
  EXPECT_TRUE(Matches(ukpn, dmc_storm, areas_));
}

}  // namespace
}  // namespace smetsmon::webhook
