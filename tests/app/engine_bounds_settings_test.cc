// The engine's input bounds in smetsmon.yaml: read, validated, and shipped at their defaults.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "app/settings.h"
#include "testing/fixtures.h"

namespace smetsmon::app {
namespace {

absl::StatusOr<Settings> LoadEngine(const std::string& name, const std::string& engine_yaml) {
  const std::string dir = testing::TempPath(name);
  std::filesystem::create_directories(dir);
  testing::WriteFile(dir + "/smetsmon.yaml", "engine:\n" + engine_yaml);
  return LoadSettings(dir + "/smetsmon.yaml");
}

TEST(EngineBoundsSettingsTest, BoundsAreReadFromTheEngineSection) {
  auto s = LoadEngine("bounds-read", "  max_devices: 640\n  max_throttled_count: 50\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->engine.max_devices, 640u);
  EXPECT_EQ(s->engine.max_throttled_count, 50u);
}

TEST(EngineBoundsSettingsTest, OutOfRangeBoundsFailTheStart) {
  EXPECT_FALSE(LoadEngine("bounds-zero-devices", "  max_devices: 0\n").ok());
  EXPECT_FALSE(LoadEngine("bounds-zero-throttled", "  max_throttled_count: 0\n").ok());
  // A bound a throttled_count (32-bit) cannot reach is a mistake, not "no bound".
  const auto too_big = LoadEngine("bounds-big-throttled", "  max_throttled_count: 4294967296\n");
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("max_throttled_count"), std::string::npos);
  EXPECT_TRUE(LoadEngine("bounds-max-throttled", "  max_throttled_count: 4294967295\n").ok());
}

TEST(EngineBoundsSettingsTest, TheShippedConfigStatesTheDefaults) {
  auto s = LoadSettings(testing::ConfigDir());
  ASSERT_TRUE(s.ok()) << s.status();
  const aggregate::EngineConfig defaults;
  EXPECT_EQ(s->engine.max_devices, defaults.max_devices);
  EXPECT_EQ(s->engine.max_throttled_count, defaults.max_throttled_count);
  EXPECT_EQ(s->engine.dedup_capacity, defaults.dedup_capacity);
}

}  // namespace
}  // namespace smetsmon::app
