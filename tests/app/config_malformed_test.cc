// Regression tests for what fuzz/config_fuzz.cc found: every config loader returns a Status for a
// well-formed YAML document of the wrong shape (a scalar where a map is read), naming the file,
// instead of letting a yaml-cpp exception escape and end the process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "app/settings.h"
#include "catalog/alert_catalogue.h"
#include "catalog/areas.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"

namespace smetsmon {
namespace {

using ::testing::HasSubstr;

// `loader` must return an error naming `path`, and not throw.
template <typename Loader>
void ExpectRefused(const std::string& path, Loader loader) {
  bool threw = false;
  try {
    const auto result = loader(path);
    ASSERT_FALSE(result.ok()) << path;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(path));
  } catch (...) {
    threw = true;
  }
  EXPECT_FALSE(threw) << "an exception escaped the loader for " << path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ConfigMalformedTest, AreasAsAScalarDocumentIsAnError) {
  const std::string path = testing::TempPath("areas.yaml");
  testing::WriteFile(path, "regions\n");  // a scalar where the loader reads `regions:`
  ExpectRefused(path, [](const std::string& p) { return catalog::AreaTable::Load(p); });
}

TEST(ConfigMalformedTest, CatalogueAsAScalarDocumentIsAnError) {
  const std::string path = testing::TempPath("alert_catalogue.yaml");
  testing::WriteFile(path, "categories\n");
  ExpectRefused(path, [](const std::string& p) { return catalog::AlertCatalogue::Load(p); });
}

TEST(ConfigMalformedTest, RulesWithAScalarWhereAMapIsReadIsAnError) {
  // The shipped rules.yaml with its `high_priority:` map replaced by a scalar.
  std::string rules = ReadAll(testing::ConfigDir() + "/rules.yaml");
  const size_t at = rules.find("\nhigh_priority:\n");
  ASSERT_NE(at, std::string::npos);
  const size_t end = rules.find("\n\n", at + 1);
  ASSERT_NE(end, std::string::npos);
  rules.replace(at, end - at, "\nhigh_priority: critical");
  const std::string path = testing::TempPath("rules.yaml");
  testing::WriteFile(path, rules);
  const catalog::ReferenceData ref = testing::LoadTestReference();
  ExpectRefused(path, [&](const std::string& p) { return rules::LoadRulesConfig(p, ref); });
  ExpectRefused(path,
                [&](const std::string& p) { return rules::LoadRulesConfig(p, *ref.catalogue); });
}

TEST(ConfigMalformedTest, SettingsAsAScalarDocumentIsAnError) {
  const std::string path = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(path, "engine\n");
  ExpectRefused(path, [](const std::string& p) { return app::LoadSettings(p); });
}

TEST(ConfigMalformedTest, ADurationPastInt64MillisecondsIsMalformed) {
  // 10^17 days is within int64 as a count but not as milliseconds: refused, not wrapped.
  EXPECT_EQ(app::ParseDurationMs("100000000000000000d"), std::nullopt);
  EXPECT_EQ(app::ParseDurationMs("9223372036854775807s"), std::nullopt);
  EXPECT_EQ(app::ParseDurationMs("9223372036854775807ms"), int64_t{9223372036854775807});
  EXPECT_EQ(app::ParseDurationMs("106751991167d"), int64_t{106751991167} * kMsPerDay);
  const std::string path = testing::TempPath("smetsmon.yaml");
  testing::WriteFile(path, "checkpoint:\n  interval: 100000000000000000d\n");
  ExpectRefused(path, [](const std::string& p) { return app::LoadSettings(p); });
}

}  // namespace
}  // namespace smetsmon
