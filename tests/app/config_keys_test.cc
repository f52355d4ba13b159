// Unknown keys in every configuration file are errors naming the file, the key's line, the key,
// the mapping and the closest allowed key (base/yaml_util.h CheckKeys); compound durations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "app/settings.h"
#include "base/yaml_util.h"
#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "rules/rules_config.h"
#include "smetsmon/types.h"
#include "testing/fixtures.h"
#include "webhook/config.h"

namespace smetsmon {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A copy of config/ in a fresh directory with `file`'s first `from` replaced by `to`; returns the
// directory. *line is the 1-based line of the replacement.
std::string BrokenCopy(const std::string& file, const std::string& from, const std::string& to,
                       int* line) {
  const std::string dir = testing::TempPath("config");
  std::filesystem::remove_all(dir);
  std::filesystem::copy(testing::ConfigDir(), dir);
  std::string text = ReadAll(dir + "/" + file);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return dir;
  text.replace(at, from.size(), to);
  *line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  testing::WriteFile(dir + "/" + file, text);
  return dir;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(ConfigKeysTest, ShippedFilesLoad) {
  ASSERT_TRUE(app::LoadSettings(testing::ConfigDir()).ok());
  const catalog::ReferenceData ref = testing::LoadTestReference();
  EXPECT_TRUE(rules::LoadRulesConfig(testing::ConfigDir() + "/rules.yaml", ref).ok());
}

TEST(ConfigKeysTest, EngineTypoNamesTheClosestKey) {
  int line = 0;
  const std::string dir = BrokenCopy("smetsmon.yaml", "  dedup_horizon:", "  dedup_horizn:", &line);
  const auto s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line) +
                ": field 'dedup_horizn': unknown key in 'engine'; did you mean 'dedup_horizon'?");
}

TEST(ConfigKeysTest, HttpAndRateLimitTypos) {
  int line = 0;
  std::string dir = BrokenCopy("smetsmon.yaml", "  read_timeout:", "  read_timout:", &line);
  auto s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line) +
                ": field 'read_timout': unknown key in 'http'; did you mean 'read_timeout'?");
  dir = BrokenCopy("smetsmon.yaml", "    burst:", "    brust:", &line);
  s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line) +
                ": field 'brust': unknown key in 'http.rate_limit'; did you mean 'burst'?");
}

TEST(ConfigKeysTest, TopLevelAndCheckpointTypos) {
  int line = 0;
  std::string dir = BrokenCopy("smetsmon.yaml", "\ncheckpoint:", "\ncheckpiont:", &line);
  auto s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line + 1) +
                ": field 'checkpiont': unknown top-level key; did you mean 'checkpoint'?");
  dir = BrokenCopy("smetsmon.yaml", "  interval: 30s", "  intervall: 30s", &line);
  s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line) +
                ": field 'intervall': unknown key in 'checkpoint'; did you mean 'interval'?");
}

TEST(ConfigKeysTest, KafkaOwnKeyTypoIsRefusedButPropertiesPassThrough) {
  int line = 0;
  const std::string dir = BrokenCopy("smetsmon.yaml", "  batch_size:", "  batch_sise:", &line);
  const auto s = app::LoadSettings(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()),
            dir + "/smetsmon.yaml:" + std::to_string(line) +
                ": field 'batch_sise': unknown key in 'kafka'; did you mean 'batch_size'?");
  // A dotted key is a librdkafka property (checked when the client is configured); an undotted
  // one librdkafka has (debug, log_level) too.
  const std::string file = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(file,
                     "kafka:\n  no.such.property: 1\n  debug: consumer\n  log_level: 3\n"
                     "  sasl.password_env: SMETSMON_TEST_CONFIG_KEYS_UNSET_\n");
  ::setenv("SMETSMON_TEST_CONFIG_KEYS_UNSET_", "pw", 1);
  const auto passed = app::LoadSettings(file);
  ::unsetenv("SMETSMON_TEST_CONFIG_KEYS_UNSET_");
  ASSERT_TRUE(passed.ok()) << passed.status();
  EXPECT_EQ(passed->kafka.properties.at("no.such.property"), "1");
  EXPECT_EQ(passed->kafka.properties.at("debug"), "consumer");
  EXPECT_EQ(passed->kafka.properties.at("sasl.password"), "pw");
}

TEST(ConfigKeysTest, NoSuggestionWhenNothingIsClose) {
  const std::string file = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(file, "engine:\n  workers: 1\n  colour: blue\n");
  const auto s = app::LoadSettings(file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s.status()), file + ":3: field 'colour': unknown key in 'engine'");
  testing::WriteFile(file, "kafka:\n  verbosity: 3\n");
  const auto k = app::LoadSettings(file);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(Message(k.status()), file + ":2: field 'verbosity': unknown key in 'kafka'");
}

TEST(ConfigKeysTest, AreasTypo) {
  int line = 0;
  const std::string dir = BrokenCopy("areas.yaml", "dno_group: UK", "dno_grup: UK", &line);
  const auto t = catalog::AreaTable::Load(dir + "/areas.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(Message(t.status()),
            dir + "/areas.yaml:" + std::to_string(line) +
                ": field 'dno_grup': unknown key in 'areas'; did you mean 'dno_group'?");
}

TEST(ConfigKeysTest, CatalogueTypos) {
  int line = 0;
  std::string dir =
      BrokenCopy("alert_catalogue.yaml", "default_priority:", "default_priorty:", &line);
  auto c = catalog::AlertCatalogue::Load(dir + "/alert_catalogue.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(Message(c.status()),
            dir + "/alert_catalogue.yaml:" + std::to_string(line) +
                ": field 'default_priorty': unknown top-level key; did you mean "
                "'default_priority'?");
  dir = BrokenCopy("alert_catalogue.yaml", "clear_code:", "clearcode:", &line);
  c = catalog::AlertCatalogue::Load(dir + "/alert_catalogue.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(Message(c.status()),
            dir + "/alert_catalogue.yaml:" + std::to_string(line) +
                ": field 'clearcode': unknown key in 'alerts'; did you mean 'clear_code'?");
}

TEST(ConfigKeysTest, RulesTypos) {
  const catalog::ReferenceData ref = testing::LoadTestReference();
  int line = 0;
  std::string dir = BrokenCopy("rules.yaml", "  warmup:", "  wramup:", &line);
  auto r = rules::LoadRulesConfig(dir + "/rules.yaml", ref);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            dir + "/rules.yaml:" + std::to_string(line) +
                ": field 'wramup': unknown key in 'storms'; did you mean 'warmup'?");
  dir = BrokenCopy("rules.yaml", "\noutages:", "\noutage:", &line);
  r = rules::LoadRulesConfig(dir + "/rules.yaml", ref);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r.status()),
            dir + "/rules.yaml:" + std::to_string(line + 1) +
                ": field 'outage': unknown top-level key; did you mean 'outages'?");
  dir = BrokenCopy("rules.yaml", "lower_is_worse:", "lower_is_worst:", &line);
  r = rules::LoadRulesConfig(dir + "/rules.yaml", ref);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r.status()),
              ::testing::HasSubstr(": field 'lower_is_worst': unknown key in 'gonogo.criteria'; "
                                   "did you mean 'lower_is_worse'?"));
}

TEST(ConfigKeysTest, WebhookReceiverTypo) {
  const catalog::ReferenceData ref = testing::LoadTestReference();
  const std::string file = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(file,
                     "webhooks:\n  spool_dir: /tmp/x\n  receivers:\n    - nmae: ukpn\n"
                     "      url: http://127.0.0.1:1/\n");
  const auto s = app::LoadSettings(file);
  ASSERT_TRUE(s.ok()) << s.status();
  const auto w = webhook::LoadWebhookConfig(s->webhooks, s->settings_file, *ref.areas);
  ASSERT_FALSE(w.ok());
  // The webhooks section names a field by its full path and lists the allowed keys.
  EXPECT_THAT(Message(w.status()),
              ::testing::StartsWith(file + ":4: field 'webhooks.receivers[0].nmae' is not a known "
                                           "setting (expected one of: name, url,"));
  EXPECT_THAT(Message(w.status()), ::testing::EndsWith("); did you mean 'name'?"));
  testing::WriteFile(file, "webhooks:\n  backoff: {initial: 1s, colour: red}\n");
  const auto far = app::LoadSettings(file);
  ASSERT_TRUE(far.ok()) << far.status();
  const auto none = webhook::LoadWebhookConfig(far->webhooks, far->settings_file, *ref.areas);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(Message(none.status()), ::testing::HasSubstr("field 'webhooks.backoff.colour'"));
  EXPECT_THAT(Message(none.status()), ::testing::Not(::testing::HasSubstr("did you mean")));
}

TEST(ConfigKeysTest, ClosestKeyIsWithinTwoEditsAndOneForShortKeys) {
  EXPECT_EQ(yaml::ClosestKey("topik", {"topic", "batch_size"}), "topic");
  EXPECT_EQ(yaml::ClosestKey("TOPIC", {"topic"}), "topic");
  EXPECT_EQ(yaml::ClosestKey("tpoci", {"topic"}), "topic");  // two transpositions
  EXPECT_EQ(yaml::ClosestKey("zzzic", {"topic"}), "");       // three edits
  EXPECT_EQ(yaml::ClosestKey("urll", {"url"}), "url");
  EXPECT_EQ(yaml::ClosestKey("ur", {"url"}), "url");
  EXPECT_EQ(yaml::ClosestKey("ulx", {"url"}), "");  // a short key: one edit at most
}

TEST(ConfigKeysTest, CompoundDurations) {
  EXPECT_EQ(yaml::ParseDurationMs("1h30m"), 90 * kMsPerMinute);
  EXPECT_EQ(yaml::ParseDurationMs("2h15m30s"), 2 * kMsPerHour + 15 * kMsPerMinute + 30'000);
  EXPECT_EQ(yaml::ParseDurationMs("1d12h"), 36 * kMsPerHour);
  EXPECT_EQ(yaml::ParseDurationMs("1m30s500ms"), 90'500);
  EXPECT_EQ(yaml::ParseDurationMs("1s500ms"), 1'500);
  EXPECT_EQ(yaml::ParseDurationMs("90s"), 90'000);
  EXPECT_EQ(yaml::ParseDurationMs("250"), 250);
  EXPECT_EQ(yaml::ParseDurationMs("0"), 0);
  for (const char* bad :
       {"", "h", "1h30", "30m1h", "1h1h", "1x", "1h 30m", "-1h", "1h-30m", "1ms1s", "1.5h"}) {
    EXPECT_EQ(yaml::ParseDurationMs(bad), std::nullopt) << bad;
  }
  // Past int64 milliseconds: one part, or the sum of parts.
  EXPECT_EQ(yaml::ParseDurationMs("106751991167d7h"),
            int64_t{106751991167} * kMsPerDay + 7 * kMsPerHour);
  EXPECT_EQ(yaml::ParseDurationMs("106751991167d8h"), std::nullopt);
  // Through a loader.
  const std::string file = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(file, "engine:\n  dedup_horizon: 1h30m\n");
  const auto s = app::LoadSettings(file);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->engine.dedup_horizon_ms, 90 * kMsPerMinute);
}

}  // namespace
}  // namespace smetsmon
