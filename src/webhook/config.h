// Webhook receivers (the DNOs' endpoints) and delivery settings, from the `webhooks:` section of
// the daemon's settings file.
//
//   webhooks:
//     spool_dir: /var/lib/smetsmon/webhooks   # durable queue (required when receivers exist)
//     max_age: 48h                             # then dead-lettered
//     dead_max_age: 7d                         # dead letters (spool_dir/dead/) then deleted
//     spool_max_bytes: 1073741824              # pending spool files' total size (bytes, > 0)
//     spool_max_files: 100000                  # pending spool files (> 0); over either cap the
//                                              # lowest-priority, oldest pending notifications
//                                              # are evicted to dead/ (see dispatcher.h)
//     external_url: https://smetsmon.example    # externalURL / generatorURL in payloads
//     backoff: {initial: 1s, max: 5m, multiplier: 2, jitter: 0.2}
//     circuit_breaker: {failures_to_open: 5, open_for: 1m}
//     receivers:
//       - name: ukpn                            # [A-Za-z0-9_.-]+, unique
//         url: https://hooks.ukpn.example:8443/smetsmon
//         areas: [UK Power Networks, 16]        # DNO groups, distributor ids or area names
//         kinds: [power_outage, storm]          # empty: all but comms_incident
//         min_severity: warning                 # info | warning | critical
//         secret_file: /etc/smetsmon/ukpn.key   # or secret_env: UKPN_WEBHOOK_SECRET
//         connect_timeout: 5s
//         request_timeout: 10s
//         tls: {verify: true, ca_file: /etc/smetsmon/ukpn-ca.pem}
//         send_resolved: true
//     alertmanager:                             # optional: also post findings to Alertmanager
//       url: http://127.0.0.1:9093              # base URL; alerts go to <url>/api/v2/alerts
//       resend_interval: 1m                     # firing alerts re-sent this often
//       connect_timeout: 5s
//       request_timeout: 10s
//       tls: {verify: true, ca_file: /etc/smetsmon/am-ca.pem}
//       state_file: /var/lib/smetsmon/webhooks/alertmanager.state  # what it was told (restarts);
//                                             # default <spool_dir>/alertmanager.state when
//                                             # spool_dir is set, '' keeps it in memory only
//
// Configuration lane: loaded at startup; errors name file, line and field. Immutable afterwards:
// safe to share between threads. The secret is held in memory only (never written or logged).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/statusor.h"
#include "catalog/areas.h"
#include "rules/finding.h"
#include "webhook/backoff.h"

namespace smetsmon::webhook {

struct Url {
  bool tls = false;    // https
  std::string host;    // name or IP literal (IPv6 without brackets)
  uint16_t port = 0;   // explicit or the scheme's default
  std::string target;  // path and query, at least "/"
  std::string text;    // as configured
};

// http://host[:port][/path] or https://...; no user info, no fragment.
absl::StatusOr<Url> ParseUrl(std::string_view text);

struct TlsConfig {
  bool verify = true;   // verify the peer's chain and host name
  std::string ca_file;  // PEM bundle to trust; empty: the system's trust store
};

struct ReceiverConfig {
  std::string name;
  Url url;
  std::vector<AreaId> areas;              // empty: every area (sorted, unique)
  std::vector<rules::FindingKind> kinds;  // empty: every kind except comms_incident
  rules::Severity min_severity = rules::Severity::kInfo;
  std::string secret;                   // HMAC-SHA256 key for X-Smetsmon-Signature
  int64_t connect_timeout_ms = 5'000;   // resolve + TCP connect
  int64_t request_timeout_ms = 10'000;  // TLS handshake + request + response
  TlsConfig tls;
  bool send_resolved = true;
};

// A real Alertmanager to post findings to (see alertmanager_sink.h).
struct AlertmanagerConfig {
  Url url;  // base URL; the sink posts to <its path>/api/v2/alerts
  int64_t resend_interval_ms = 60'000;
  int64_t connect_timeout_ms = 5'000;
  int64_t request_timeout_ms = 10'000;
  TlsConfig tls;
  // Where the sink keeps what it told Alertmanager across restarts; "" = in memory only.
  std::string state_file;
};

struct WebhookConfig {
  std::vector<ReceiverConfig> receivers;
  std::string spool_dir;
  int64_t max_age_ms = 48 * kMsPerHour;
  // Files in spool_dir/dead/ are deleted this long after they were dead-lettered (at start and
  // hourly), so dead/ cannot fill the disk; long enough to be looked at after a weekend.
  int64_t dead_max_age_ms = 7 * 24 * kMsPerHour;
  // Bounds on the pending spool (files in spool_dir, not dead/): a new notification that would
  // take it over either cap first evicts pending ones to dead/ (Dispatcher: lowest priority, then
  // oldest), so a receiver down for days cannot fill the disk.
  int64_t spool_max_bytes = int64_t{1} << 30;  // 1 GiB
  int64_t spool_max_files = 100'000;
  BackoffConfig backoff;
  CircuitBreakerConfig circuit_breaker;
  std::string external_url;  // base URL of this daemon's HTTP API, "" when not reachable
  std::optional<AlertmanagerConfig> alertmanager;
};

// Parses the `webhooks:` section (a null/absent node gives a config without receivers). `file`
// names the settings file in errors. Unknown areas or DNO groups, unknown finding kinds, bad URLs,
// a missing secret file or environment variable, an inline `secret:` and unknown keys are errors.
absl::StatusOr<WebhookConfig> LoadWebhookConfig(const YAML::Node& webhooks_section,
                                                const std::string& file,
                                                const catalog::AreaTable& areas);

// Whether `receiver` wants to hear about `f` (ignoring send_resolved):
// - kind: listed, or the list is empty and the kind is not comms_incident (a comms incident is
//   not a power cut: it goes only to receivers that ask for `comms_incident` by name);
// - severity at least min_severity;
// - area: the finding's area is one of the receiver's; a regional finding (no area, a region)
//   matches when one of the receiver's areas is in that region; a national finding (neither)
//   matches every receiver.
bool Matches(const ReceiverConfig& receiver, const rules::Finding& f,
             const catalog::AreaTable& areas);

// Parses "info" | "warning" | "critical".
bool ParseSeverity(std::string_view name, rules::Severity* out);

}  // namespace smetsmon::webhook
