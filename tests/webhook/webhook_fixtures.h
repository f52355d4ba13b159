// Shared helpers for the webhook tests: the shipped area table, findings, fresh temp dirs, a
// receiver config pointing at a loopback test receiver, and an independent HMAC for checking
// signatures.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/areas.h"
#include "rules/finding.h"
#include "testing/fixtures.h"
#include "webhook/config.h"

namespace smetsmon::webhook::testing {

inline catalog::AreaTable LoadAreas() {
  auto t = catalog::AreaTable::Load(smetsmon::testing::ConfigDir() + "/areas.yaml");
  if (!t.ok()) ADD_FAILURE() << t.status();
  return *std::move(t);
}

// A fresh, empty directory for one test.
inline std::string FreshDir(const std::string& name) {
  const std::string dir = smetsmon::testing::TempPath(name);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  return dir;
}

// Regular files in `dir` whose name ends with `suffix` (not recursive).
inline std::vector<std::string> FilesIn(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline rules::Finding AreaFinding(const catalog::AreaTable& areas, const std::string& id,
                                  int distributor_id,
                                  rules::Severity severity = rules::Severity::kCritical,
                                  rules::FindingKind kind = rules::FindingKind::kPowerOutage) {
  rules::Finding f;
  f.id = id;
  f.kind = kind;
  f.severity = severity;
  f.area = areas.ByDistributorId(distributor_id);
  f.region = areas.RegionLabel(areas.RegionOf(f.area));
  f.scope = "area=" + areas.area(f.area).name;
  f.start = EventTime{1'709'287'200'000};  // 2024-03-01T10:00:00Z
  f.explanation = "Power outage in " + areas.area(f.area).name + ": 1,234 premises lost supply";
  f.figures = {{"affected_premises", 1234}, {"affected_share", 0.0125}};
  return f;
}

inline rules::Finding CommsIncident(const std::string& region) {
  rules::Finding f;
  f.id = "comms_incident:region=" + region + ":1709287200000";
  f.kind = rules::FindingKind::kCommsIncident;
  f.severity = rules::Severity::kWarning;
  f.region = region;
  f.scope = "region=" + region;
  f.start = EventTime{1'709'287'200'000};
  f.explanation = "Communications incident in the " + region + " region, not a power cut";
  return f;
}

inline ReceiverConfig MakeReceiver(const std::string& name, const std::string& url,
                                   const std::string& secret = "s3cret") {
  ReceiverConfig r;
  r.name = name;
  auto u = ParseUrl(url);
  EXPECT_TRUE(u.ok()) << u.status();
  r.url = *u;
  r.secret = secret;
  r.connect_timeout_ms = 2'000;
  r.request_timeout_ms = 5'000;
  return r;
}

// HMAC-SHA256 computed here with OpenSSL directly, not with the code under test.
inline std::string ExpectedSignature(const std::string& secret, const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

}  // namespace smetsmon::webhook::testing
