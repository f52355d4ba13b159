// HTTPS delivery against a loopback receiver whose self-signed certificate is made at test time
// with the openssl command-line tool.
#include <cstdlib>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>

#include "webhook/dispatcher.h"
#include "webhook/test_receiver.h"
#include "webhook/webhook_fixtures.h"

namespace smetsmon::webhook {
namespace {

using testing::TestReceiver;

// Writes cert.pem/key.pem for subjectAltName `san` into `dir`; false when openssl failed.
bool MakeSelfSignedCert(const std::string& dir, const std::string& san) {
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
      " -subj /CN=smetsmon-test -addext 'subjectAltName=" +
      san + "' -keyout '" + dir + "/key.pem' -out '" + dir + "/cert.pem' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class HttpsTest : public ::testing::Test {
 protected:
  void Serve(const std::string& san) {
    cert_dir_ = testing::FreshDir("tls");
    ASSERT_TRUE(MakeSelfSignedCert(cert_dir_, san)) << "openssl CLI failed";
    server_ctx_ =
        std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    server_ctx_->use_certificate_chain_file(cert_dir_ + "/cert.pem");
    server_ctx_->use_private_key_file(cert_dir_ + "/key.pem", boost::asio::ssl::context::pem);
    receiver_ = std::make_unique<TestReceiver>(TestReceiver::Handler{}, server_ctx_.get());
    ASSERT_TRUE(receiver_->Start());
  }

  ReceiverStats Deliver(TlsConfig tls) {
    WebhookConfig c;
    c.spool_dir = testing::FreshDir("spool");
    c.receivers.push_back(testing::MakeReceiver("dno", receiver_->Url()));
    c.receivers[0].tls = std::move(tls);
    auto d = Dispatcher::Create(c, areas_, clock_);
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return {};
    EXPECT_EQ(
        *(*d)->Enqueue(testing::AreaFinding(areas_, "power_outage:area=Eastern:1", 10), false), 1u);
    EXPECT_EQ((*d)->Pump(), 1u);
    return (*d)->Stats()[0];
  }

  catalog::AreaTable areas_ = testing::LoadAreas();
  ManualClock clock_{ProcessingTime{1'709'287'260'000}};
  std::string cert_dir_;
  std::unique_ptr<boost::asio::ssl::context> server_ctx_;
  std::unique_ptr<TestReceiver> receiver_;
};

TEST_F(HttpsTest, DeliversWhenTheCertificateVerifiesAgainstTheCaFile) {
  Serve("IP:127.0.0.1,DNS:localhost");
  const ReceiverStats s = Deliver({/*verify=*/true, cert_dir_ + "/cert.pem"});
  EXPECT_EQ(s.delivered, 1u);
  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("x-smetsmon-signature"),
            testing::ExpectedSignature("s3cret", reqs[0].body));
}

TEST_F(HttpsTest, UntrustedCertificateIsNotSentTo) {
  Serve("IP:127.0.0.1");
  const ReceiverStats s = Deliver({/*verify=*/true, /*ca_file=*/""});  // system trust store
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.queue_depth, 1u);
  EXPECT_EQ(receiver_->count(), 0u);
}

TEST_F(HttpsTest, CertificateForAnotherHostIsRefused) {
  Serve("DNS:other.example");
  const ReceiverStats s = Deliver({true, cert_dir_ + "/cert.pem"});
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(receiver_->count(), 0u);
}

TEST_F(HttpsTest, VerificationCanBeTurnedOff) {
  Serve("DNS:other.example");
  const ReceiverStats s = Deliver({/*verify=*/false, ""});
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(receiver_->count(), 1u);
}

TEST_F(HttpsTest, BadCaFileFailsCreate) {
  Serve("IP:127.0.0.1");
  WebhookConfig c;
  c.spool_dir = testing::FreshDir("spool");
  c.receivers.push_back(testing::MakeReceiver("dno", receiver_->Url()));
  c.receivers[0].tls.ca_file = cert_dir_ + "/missing.pem";
  auto d = Dispatcher::Create(c, areas_, clock_);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), ::testing::HasSubstr("dno"));
}

}  // namespace
}  // namespace smetsmon::webhook
