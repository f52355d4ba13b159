// The webhook body: Alertmanager's webhook format, version 4, one alert per notification, so a
// receiver written for Alertmanager (or Alertmanager-compatible tooling) works unchanged. And the
// HMAC signature that lets the receiver check the body came from us.
//
//   {"version":"4","groupKey":"{}:{finding_id=\"...\"}","truncatedAlerts":0,
//    "status":"firing"|"resolved",["finalTally":true,]"receiver":"ukpn",
//    "groupLabels":{"finding_id":...},
//    "commonLabels":{...the alert's labels},"commonAnnotations":{...the alert's annotations},
//    "externalURL":"...","alerts":[{"status":...,"labels":{"alertname":"smetsmon_power_outage",
//    "severity","kind","area","distributor_id","dno_group","region","scope","finding_id"},
//    "annotations":{"summary","description", one per figure, and for a closed finding with a
//    late tally (rules::Tally: a power outage) "figures_final":"true"|"false" and
//    "final_tally_at":RFC3339},"startsAt":RFC3339,
//    "endsAt":RFC3339 or "0001-01-01T00:00:00Z" while firing,"generatorURL":...,
//    "fingerprint":16 hex digits}]}
//
// Labels without a value are left out (Alertmanager treats an empty label as absent): a
// regional finding has no area, dno_group or distributor_id; a national one no region either.
//
// Time domain: startsAt/endsAt are the finding's event times; a resolved finding without an end
// uses `now` (processing time). Pure functions: safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/areas.h"
#include "rules/finding.h"
#include "smetsmon/types.h"

namespace smetsmon::webhook {

// A finding as an alert: the labels and annotations above (shared by the webhook payload and the
// Alertmanager sink, so both routes carry the same alert).
struct AlertContent {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};
AlertContent FindingAlert(const rules::Finding& f, const catalog::AreaTable& areas);

// The body of Alertmanager's `POST /api/v2/alerts` (a JSON array of postable alerts: labels,
// annotations, startsAt, endsAt, generatorURL). `ends_at` is when Alertmanager should consider the
// alert over: the finding's end when it is resolved, a little past the next re-send while firing.
struct PostableFinding {
  const rules::Finding* finding = nullptr;
  int64_t ends_at_ms = 0;  // Unix ms (event time when resolved, processing time while firing)
};
std::string BuildPostableAlerts(const std::vector<PostableFinding>& findings,
                                std::string_view external_url, const catalog::AreaTable& areas);

// `final_tally`: the update of a resolved finding whose figures became final (dispatcher.h): status
// "resolved", and a top-level "finalTally":true (Alertmanager's format has no such field; a
// receiver that does not know it sees one more resolved notification of the finding).
std::string BuildAlertmanagerPayload(const rules::Finding& f, bool resolved,
                                     std::string_view receiver, std::string_view external_url,
                                     const catalog::AreaTable& areas, ProcessingTime now,
                                     bool final_tally = false);

// Stable 16-hex-digit fingerprint of a finding id (first 8 bytes of its SHA-256).
std::string FindingFingerprint(std::string_view finding_id);

// Lower-case hex of HMAC-SHA256(key, data).
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Lower-case hex of SHA-256(data).
std::string Sha256Hex(std::string_view data);
// The X-Smetsmon-Signature header value: "sha256=" + HmacSha256Hex(secret, body).
std::string SignatureHeader(std::string_view secret, std::string_view body);

}  // namespace smetsmon::webhook
