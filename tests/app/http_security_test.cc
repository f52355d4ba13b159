// The API's locks and the secrets' handling: the bearer token compare, /metrics behind the token,
// the refusal of a non-loopback listen without a token, secrets read from files and the
// environment, warnings about inline secrets that name the key only, and the HTTP probe.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "app/api.h"
#include "app/settings.h"
#include "metrics/daemon_metrics.h"
#include "metrics/http_metrics.h"
#include "testing/fixtures.h"

namespace smetsmon::app {
namespace {

TEST(BearerMatchesTest, OnlyTheExactValueMatches) {
  EXPECT_TRUE(BearerMatches("Bearer s3cret-token", "Bearer s3cret-token"));
  EXPECT_FALSE(BearerMatches("Bearer s3cret-tokeX", "Bearer s3cret-token"));  // same length
  EXPECT_FALSE(BearerMatches("Bearer s3cret", "Bearer s3cret-token"));        // a prefix
  EXPECT_FALSE(BearerMatches("Bearer s3cret-token-and-more", "Bearer s3cret-token"));
  EXPECT_FALSE(BearerMatches("", "Bearer s3cret-token"));
}

http::Response Get(const Daemon& d, const std::string& target, const std::string& auth = "") {
  http::Request r;
  r.method = "GET";
  r.target = target;
  r.authorization = auth;
  http::Response out;
  HandleHttp(d, r, [&out](http::Response resp) { out = std::move(resp); });
  return out;
}

TEST(MetricsAuthTest, MetricsNeedTheTokenOnlyWhenConfiguredTo) {
  Daemon d;
  d.bearer_token = "s3cret";
  EXPECT_EQ(Get(d, "/metrics").status, 200);  // the default: Prometheus scrapes without one
  d.metrics_require_token = true;
  EXPECT_EQ(Get(d, "/metrics").status, 401);
  EXPECT_EQ(Get(d, "/metrics", "Bearer wrong!").status, 401);
  const http::Response ok = Get(d, "/metrics", "Bearer s3cret");
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("smetsmon_"), std::string::npos);
  // Health and readiness stay open (probes have no token).
  EXPECT_EQ(Get(d, "/healthz").status, 200);
}

// Found by the http fuzzer: a path's bytes past ASCII were echoed as they came, and an error that
// is not UTF-8 is not JSON.
TEST(ApiErrorTest, AnEchoedPathThatIsNotUtf8IsMadeValidJson) {
  Daemon d;
  const http::Response not_found = Get(d, "/caf\xc3\xa9/\xff\xfe");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.body, R"({"error":"not found: /caf??/??"})");
  const http::Response bad_id = Get(d, "/api/v1/devices/\xc3");
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_NE(bad_id.body.find("bad device id '?'"), std::string::npos) << bad_id.body;
  // Valid UTF-8 is echoed unchanged.
  EXPECT_EQ(Get(d, "/caf\xc3\xa9").body, "{\"error\":\"not found: /caf\xc3\xa9\"}");
}

TEST(HttpMetricsTest, RefusalsAreExportedByReason) {
  auto stats = std::make_shared<http::ServerStats>();
  stats->Reject(http::RejectReason::kRateLimited);
  stats->Reject(http::RejectReason::kRateLimited);
  stats->Reject(http::RejectReason::kConnections);
  const metrics::HttpMetrics m(stats);
  const std::string text = metrics::RenderText({&m});
  EXPECT_NE(text.find("smetsmon_http_rejected_total{reason=\"rate_limited\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("smetsmon_http_rejected_total{reason=\"connections\"} 1"), std::string::npos);
  EXPECT_NE(text.find("smetsmon_http_rejected_total{reason=\"header_too_large\"} 0"),
            std::string::npos);
}

// A configuration directory holding smetsmon.yaml with `yaml`.
std::string ConfigDir(const std::string& yaml) {
  const std::string dir = testing::TempPath("config");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  testing::WriteFile(dir + "/smetsmon.yaml", yaml);
  return dir;
}

TEST(HttpExposureTest, ANonLoopbackListenWithoutATokenNeedsAnExplicitOptIn) {
  auto refused = LoadSettings(ConfigDir("http:\n  listen: 0.0.0.0:9477\n"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("allow_unauthenticated"), std::string::npos)
      << refused.status();
  EXPECT_TRUE(LoadSettings(ConfigDir("http:\n  listen: 127.0.0.1:9477\n")).ok());
  EXPECT_TRUE(LoadSettings(ConfigDir("http:\n  listen: \"[::1]:9477\"\n")).ok());
  EXPECT_TRUE(
      LoadSettings(ConfigDir("http:\n  listen: 0.0.0.0:9477\n  allow_unauthenticated: true\n"))
          .ok());
  const std::string token_file = testing::TempPath("token");
  testing::WriteFile(token_file, "tok-123\n");
  auto with_token = LoadSettings(
      ConfigDir("http:\n  listen: 0.0.0.0:9477\n  bearer_token_file: " + token_file + "\n"));
  ASSERT_TRUE(with_token.ok()) << with_token.status();
  EXPECT_EQ(with_token->http_bearer_token, "tok-123");  // the trailing newline trimmed
  // metrics_require_token without a token is a contradiction.
  EXPECT_FALSE(LoadSettings(ConfigDir("http:\n  metrics_require_token: true\n")).ok());
}

TEST(HttpSettingsTest, LimitsAndTimeoutsAreRead) {
  auto s = LoadSettings(ConfigDir(
      "http:\n  max_connections: 7\n  header_limit_bytes: 4096\n  body_limit_bytes: 2048\n"
      "  read_timeout: 3s\n  write_timeout: 4s\n  idle_timeout: 5s\n"
      "  rate_limit: {per_second: 2.5, burst: 9, max_clients: 11}\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->http_server.max_connections, 7u);
  EXPECT_EQ(s->http_server.header_limit_bytes, 4096u);
  EXPECT_EQ(s->http_server.body_limit_bytes, 2048u);
  EXPECT_EQ(s->http_server.read_timeout_ms, 3000);
  EXPECT_EQ(s->http_server.write_timeout_ms, 4000);
  EXPECT_EQ(s->http_server.idle_timeout_ms, 5000);
  EXPECT_EQ(s->http_server.rate_per_s, 2.5);
  EXPECT_EQ(s->http_server.rate_burst, 9);
  EXPECT_EQ(s->http_server.rate_max_clients, 11u);
  EXPECT_FALSE(LoadSettings(ConfigDir("http:\n  rate_limit: {per_second: 1, burst: 0}\n")).ok());
}

TEST(KafkaSecretsTest, ASecretComesFromAFileOrTheEnvironment) {
  const std::string file = testing::TempPath("sasl");
  testing::WriteFile(file, "pa55-from-file\n");
  auto from_file =
      LoadSettings(ConfigDir("kafka:\n  bootstrap.servers: b:9092\n"
                             "  sasl.password_file: " +
                             file + "\n"));
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->kafka.properties.at("sasl.password"), "pa55-from-file");
  EXPECT_EQ(from_file->kafka.properties.count("sasl.password_file"), 0u);

  ::setenv("SMETSMON_TEST_KEY_PASSWORD", "pa55-from-env", 1);
  auto from_env =
      LoadSettings(ConfigDir("kafka:\n  ssl.key.password_env: SMETSMON_TEST_KEY_PASSWORD\n"));
  ::unsetenv("SMETSMON_TEST_KEY_PASSWORD");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->kafka.properties.at("ssl.key.password"), "pa55-from-env");

  // Unset, unreadable, or given twice: startup fails naming the key, never a value.
  auto unset = LoadSettings(ConfigDir("kafka:\n  sasl.password_env: SMETSMON_TEST_UNSET_VAR\n"));
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.status().message().find("SMETSMON_TEST_UNSET_VAR"), std::string::npos);
  EXPECT_FALSE(LoadSettings(ConfigDir("kafka:\n  sasl.password_file: /nonexistent/x\n")).ok());
  auto twice = LoadSettings(
      ConfigDir("kafka:\n  sasl.password: inline-pw\n  sasl.password_file: " + file + "\n"));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message().find("inline-pw"), std::string::npos);
}

TEST(KafkaSecretsTest, AnInlineSecretIsWarnedAboutByKeyNeverByValue) {
  ::testing::internal::CaptureStderr();
  auto s =
      LoadSettings(ConfigDir("kafka:\n  sasl.password: hunter2-inline\n  client.id: smetsmon-a\n"
                             "http:\n  bearer_token: tok-inline-456\n"));
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kafka.properties.at("sasl.password"), "hunter2-inline");
  EXPECT_EQ(s->http_bearer_token, "tok-inline-456");
  EXPECT_NE(log.find("key=kafka.sasl.password"), std::string::npos) << log;
  EXPECT_NE(log.find("key=http.bearer_token"), std::string::npos) << log;
  EXPECT_EQ(log.find("client.id"), std::string::npos) << log;  // not a secret: no warning
  EXPECT_EQ(log.find("hunter2-inline"), std::string::npos) << log;
  EXPECT_EQ(log.find("tok-inline-456"), std::string::npos) << log;
}

}  // namespace
}  // namespace smetsmon::app
