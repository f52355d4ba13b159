// The dead-letter settings in smetsmon.yaml (kafka.dead_letter_file, kafka.dead_letter_flush) and
// the webhook spool's dead_max_age: read, with their defaults.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>

#include "app/settings.h"
#include "catalog/areas.h"
#include "testing/fixtures.h"
#include "webhook/config.h"

namespace smetsmon::app {
namespace {

absl::StatusOr<Settings> LoadKafka(const std::string& name, const std::string& kafka_yaml) {
  const std::string dir = testing::TempPath(name);
  std::filesystem::create_directories(dir);
  testing::WriteFile(dir + "/smetsmon.yaml", "kafka:\n" + kafka_yaml);
  return LoadSettings(dir + "/smetsmon.yaml");
}

TEST(DeadLetterSettingsTest, TheFileAndTheFlushBoundAreRead) {
  auto s = LoadKafka("dlq-read",
                     "  bootstrap.servers: 127.0.0.1:9092\n"
                     "  dead_letter_file: /var/lib/smetsmon/dead.jsonl\n"
                     "  dead_letter_flush: 2s\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kafka.dead_letter_file, "/var/lib/smetsmon/dead.jsonl");
  EXPECT_EQ(s->kafka.dead_letter_flush_ms, 2000);
  // Not passed on to librdkafka as properties.
  EXPECT_EQ(s->kafka.properties.count("dead_letter_file"), 0u);
  EXPECT_EQ(s->kafka.properties.count("dead_letter_flush"), 0u);
}

TEST(DeadLetterSettingsTest, Defaults) {
  auto s = LoadKafka("dlq-defaults", "  bootstrap.servers: 127.0.0.1:9092\n");
  ASSERT_TRUE(s.ok()) << s.status();
  const ingest::KafkaConfig defaults;
  EXPECT_EQ(s->kafka.dead_letter_file, defaults.dead_letter_file);
  EXPECT_EQ(s->kafka.dead_letter_flush_ms, defaults.dead_letter_flush_ms);
  EXPECT_FALSE(LoadKafka("dlq-bad-flush", "  dead_letter_flush: soon\n").ok());
}

TEST(DeadLetterSettingsTest, WebhookDeadMaxAgeIsReadWithASevenDayDefault) {
  const catalog::AreaTable areas = *catalog::AreaTable::Load(testing::ConfigDir() + "/areas.yaml");
  auto set = webhook::LoadWebhookConfig(YAML::Load("spool_dir: /tmp/x\ndead_max_age: 36h\n"),
                                        "w.yaml", areas);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->dead_max_age_ms, 36 * kMsPerHour);
  auto unset = webhook::LoadWebhookConfig(YAML::Load("spool_dir: /tmp/x\n"), "w.yaml", areas);
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ(unset->dead_max_age_ms, 7 * 24 * kMsPerHour);
}

}  // namespace
}  // namespace smetsmon::app
