// A librdkafka property that librdkafka refuses is reported by its key, never its value (shown as
// <redacted> where librdkafka's own message would quote it).
#include <gtest/gtest.h>

#include <librdkafka/rdkafka.h>

#include "base/secrets.h"
#include "ingest/kafka_source.h"

namespace smetsmon::ingest {
namespace {

absl::Status Set(const std::map<std::string, std::string>& props) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::Status s = SetKafkaProperties(conf, props);
  rd_kafka_conf_destroy(conf);
  return s;
}

TEST(KafkaSecretsTest, ARefusedSecretPropertyIsReportedWithoutItsValue) {
  // librdkafka refuses a Java JAAS configuration, which carries the password.
  const std::string jaas =
      "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" "
      "password=\"hunter2-jaas\";";
  const absl::Status s = Set({{"bootstrap.servers", "b:9092"}, {"sasl.jaas.config", jaas}});
  ASSERT_FALSE(s.ok());
  const std::string m(s.message());
  EXPECT_NE(m.find("kafka property 'sasl.jaas.config'"), std::string::npos) << m;
  EXPECT_EQ(m.find("hunter2"), std::string::npos) << m;
  // A misspelt secret key (librdkafka: no such property) is not printed with its value either.
  const absl::Status typo = Set({{"sasl.passwd.password", "hunter2-typo"}});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.message().find("kafka property 'sasl.passwd.password'"), std::string::npos)
      << typo.message();
  EXPECT_EQ(typo.message().find("hunter2-typo"), std::string::npos) << typo.message();
}

TEST(KafkaSecretsTest, ARefusedOrdinaryPropertyIsNamedByItsKeyNotItsValue) {
  const absl::Status s = Set({{"socket.timeout.ms", "later-please"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("kafka property 'socket.timeout.ms'"), std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find("later-please"), std::string::npos) << s.message();
}

TEST(SecretKeyTest, TheSecretKeysAreRecognised) {
  for (const char* k :
       {"sasl.password", "ssl.key.password", "sasl.jaas.config", "sasl.oauthbearer.client.secret",
        "bearer_token", "ssl.keystore.password", "SASL.PASSWORD"}) {
    EXPECT_TRUE(IsSecretKey(k)) << k;
  }
  for (const char* k : {"bootstrap.servers", "sasl.username", "ssl.key.location", "client.id"}) {
    EXPECT_FALSE(IsSecretKey(k)) << k;
  }
  EXPECT_EQ(RedactSecret("bad value \"pw\" in pw", "pw"), "bad value \"<redacted>\" in <redacted>");
}

}  // namespace
}  // namespace smetsmon::ingest
