#include "webhook/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/yaml_util.h"
#include "smetsmon/status.h"

namespace smetsmon::webhook {
namespace {

using yaml::ConfigError;

constexpr rules::FindingKind kAllKinds[] = {
    rules::FindingKind::kStorm,
    rules::FindingKind::kPowerOutage,
    rules::FindingKind::kCommsIncident,
    rules::FindingKind::kDnoFlood,
    rules::FindingKind::kDeliveryBelowMinimum,
    rules::FindingKind::kNoisyDevices,
};

// The context of one map being read: the file and the dotted path of the map ("webhooks",
// "webhooks.receivers[2]") so errors name the field fully.
struct MapReader {
  const std::string& file;
  const YAML::Node& map;
  std::string path;

  std::string Field(std::string_view key) const {
    return absl::StrCat(path, ".", std::string(key));
  }
  absl::Status Error(std::string_view key, const std::string& what) const {
    const YAML::Node at = map[std::string(key)];
    return ConfigError(file, at ? at : map, Field(key), what);
  }

  absl::Status OnlyKeys(std::initializer_list<std::string_view> allowed) const {
    // The dotted path names the key in full (webhooks.receivers[0].nmae), as every error of
    // this section does; the closest allowed key follows when one is close (base/yaml_util.h).
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string what = absl::StrCat(
            "is not a known setting (expected one of: ",
            absl::StrJoin(std::vector<std::string>(allowed.begin(), allowed.end()), ", "), ")");
        if (const std::string near = yaml::ClosestKey(key, allowed); !near.empty()) {
          absl::StrAppend(&what, "; did you mean '", near, "'?");
        }
        return ConfigError(file, kv.first, Field(key), what);
      }
    }
    return absl::OkStatus();
  }

  // Reads a scalar as T into *out when present; leaves *out unchanged otherwise.
  template <typename T>
  absl::Status Scalar(std::string_view key, T* out) const {
    const YAML::Node v = map[std::string(key)];
    if (!v) return absl::OkStatus();
    if (!v.IsScalar()) return ConfigError(file, v, Field(key), "must be a scalar");
    try {
      *out = v.as<T>();
    } catch (const YAML::Exception&) {
      return ConfigError(file, v, Field(key),
                         absl::StrCat("has the wrong type ('", v.Scalar(), "')"));
    }
    return absl::OkStatus();
  }

  absl::Status Duration(std::string_view key, int64_t* out) const {
    std::string text;
    SMETSMON_RETURN_IF_ERROR(Scalar(key, &text));
    if (!map[std::string(key)]) return absl::OkStatus();
    const auto ms = yaml::ParseDurationMs(text);
    if (!ms || *ms <= 0) {
      return Error(key, absl::StrCat("is not a positive duration like 5s or 2m: '", text, "'"));
    }
    *out = *ms;
    return absl::OkStatus();
  }
};

bool IsHostChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

bool IsName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::string ReadWholeFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  if (!*ok) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status ReadAreas(const MapReader& r, const catalog::AreaTable& areas,
                       std::vector<AreaId>* out) {
  const YAML::Node list = r.map["areas"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) {
    return r.Error("areas", "must be a list of distributor ids, DNO groups or area names");
  }
  std::set<uint8_t> ids;
  for (const YAML::Node& item : list) {
    if (!item.IsScalar()) {
      return ConfigError(r.file, item, r.Field("areas"), "entries must be scalars");
    }
    const std::string text = item.Scalar();
    int dist = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), dist);
    if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
      const AreaId a = areas.ByDistributorId(dist);
      if (a == kUnknownArea) {
        return ConfigError(
            r.file, item, r.Field("areas"),
            absl::StrCat("names unknown distributor id ", text, " (not in the area table)"));
      }
      ids.insert(a.value);
      continue;
    }
    bool found = false;
    for (size_t i = 0; i < areas.size(); ++i) {
      const catalog::Area& a = areas.areas()[i];
      if (absl::EqualsIgnoreCase(a.dno_group, text) || absl::EqualsIgnoreCase(a.name, text)) {
        ids.insert(static_cast<uint8_t>(i));
        found = true;
      }
    }
    if (!found) {
      return ConfigError(r.file, item, r.Field("areas"),
                         absl::StrCat("names unknown DNO group or area '", text, "'"));
    }
  }
  for (uint8_t id : ids) out->push_back(AreaId{id});
  return absl::OkStatus();
}

absl::Status ReadKinds(const MapReader& r, std::vector<rules::FindingKind>* out) {
  const YAML::Node list = r.map["kinds"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) return r.Error("kinds", "must be a list of finding kinds");
  for (const YAML::Node& item : list) {
    const std::string text = item.IsScalar() ? item.Scalar() : "";
    const auto* it = std::find_if(std::begin(kAllKinds), std::end(kAllKinds),
                                  [&](rules::FindingKind k) { return text == FindingKindName(k); });
    if (it == std::end(kAllKinds)) {
      std::vector<std::string> names;
      for (rules::FindingKind k : kAllKinds) names.push_back(FindingKindName(k));
      return ConfigError(r.file, item, r.Field("kinds"),
                         absl::StrCat("names unknown finding kind '", text,
                                      "' (expected one of: ", absl::StrJoin(names, ", "), ")"));
    }
    if (std::find(out->begin(), out->end(), *it) == out->end()) out->push_back(*it);
  }
  return absl::OkStatus();
}

absl::Status ReadSecret(const MapReader& r, std::string* secret) {
  if (r.map["secret"]) {
    return r.Error("secret", "must not be written inline: use secret_file or secret_env");
  }
  std::string file_path, env_name;
  SMETSMON_RETURN_IF_ERROR(r.Scalar("secret_file", &file_path));
  SMETSMON_RETURN_IF_ERROR(r.Scalar("secret_env", &env_name));
  if (!file_path.empty() && !env_name.empty()) {
    return r.Error("secret_env", "cannot be combined with secret_file: give one");
  }
  if (!file_path.empty()) {
    bool ok = false;
    std::string text = ReadWholeFile(file_path, &ok);
    if (!ok) return r.Error("secret_file", absl::StrCat("cannot read ", file_path));
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text.empty()) return r.Error("secret_file", absl::StrCat(file_path, " is empty"));
    *secret = std::move(text);
    return absl::OkStatus();
  }
  if (!env_name.empty()) {
    const char* v = std::getenv(env_name.c_str());
    if (v == nullptr || *v == 0) {
      return r.Error("secret_env",
                     absl::StrCat("names environment variable ", env_name, ", which is not set"));
    }
    *secret = v;
    return absl::OkStatus();
  }
  return ConfigError(r.file, r.map, r.Field("secret_file"),
                     "is required (or secret_env): every receiver needs an HMAC secret");
}

absl::Status ReadTls(const MapReader& r, TlsConfig* out) {
  const YAML::Node tls = r.map["tls"];
  if (!tls) return absl::OkStatus();
  if (!tls.IsMap()) return r.Error("tls", "must be a map with verify and ca_file");
  const MapReader t{r.file, tls, r.Field("tls")};
  SMETSMON_RETURN_IF_ERROR(t.OnlyKeys({"verify", "ca_file"}));
  SMETSMON_RETURN_IF_ERROR(t.Scalar("verify", &out->verify));
  SMETSMON_RETURN_IF_ERROR(t.Scalar("ca_file", &out->ca_file));
  if (!out->ca_file.empty()) {
    bool ok = false;
    ReadWholeFile(out->ca_file, &ok);
    if (!ok) return t.Error("ca_file", absl::StrCat("cannot read ", out->ca_file));
  }
  return absl::OkStatus();
}

absl::StatusOr<ReceiverConfig> ReadReceiver(const MapReader& r, const catalog::AreaTable& areas) {
  SMETSMON_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "url", "areas", "kinds", "min_severity", "secret_file", "secret_env",
                  "secret", "connect_timeout", "request_timeout", "tls", "send_resolved"}));
  ReceiverConfig c;
  SMETSMON_RETURN_IF_ERROR(r.Scalar("name", &c.name));
  if (!r.map["name"]) return r.Error("name", "is required");
  if (!IsName(c.name)) {
    return r.Error("name",
                   absl::StrCat("must be letters, digits, '_', '-' or '.': '", c.name, "'"));
  }
  std::string url;
  SMETSMON_RETURN_IF_ERROR(r.Scalar("url", &url));
  if (url.empty()) return r.Error("url", "is required");
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return r.Error("url", std::string(parsed.status().message()));
  c.url = *std::move(parsed);
  SMETSMON_RETURN_IF_ERROR(ReadAreas(r, areas, &c.areas));
  SMETSMON_RETURN_IF_ERROR(ReadKinds(r, &c.kinds));
  std::string severity = "info";
  SMETSMON_RETURN_IF_ERROR(r.Scalar("min_severity", &severity));
  if (!ParseSeverity(severity, &c.min_severity)) {
    return r.Error("min_severity",
                   absl::StrCat("must be info, warning or critical, not '", severity, "'"));
  }
  SMETSMON_RETURN_IF_ERROR(ReadSecret(r, &c.secret));
  SMETSMON_RETURN_IF_ERROR(r.Duration("connect_timeout", &c.connect_timeout_ms));
  SMETSMON_RETURN_IF_ERROR(r.Duration("request_timeout", &c.request_timeout_ms));
  SMETSMON_RETURN_IF_ERROR(r.Scalar("send_resolved", &c.send_resolved));
  SMETSMON_RETURN_IF_ERROR(ReadTls(r, &c.tls));
  return c;
}

absl::StatusOr<AlertmanagerConfig> ReadAlertmanager(const MapReader& r) {
  SMETSMON_RETURN_IF_ERROR(r.OnlyKeys(
      {"url", "resend_interval", "connect_timeout", "request_timeout", "tls", "state_file"}));
  AlertmanagerConfig c;
  std::string url;
  SMETSMON_RETURN_IF_ERROR(r.Scalar("url", &url));
  if (url.empty()) return r.Error("url", "is required (Alertmanager's base URL)");
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return r.Error("url", std::string(parsed.status().message()));
  c.url = *std::move(parsed);
  SMETSMON_RETURN_IF_ERROR(r.Duration("resend_interval", &c.resend_interval_ms));
  if (c.resend_interval_ms < 1000) return r.Error("resend_interval", "must be at least 1s");
  SMETSMON_RETURN_IF_ERROR(r.Duration("connect_timeout", &c.connect_timeout_ms));
  SMETSMON_RETURN_IF_ERROR(r.Duration("request_timeout", &c.request_timeout_ms));
  SMETSMON_RETURN_IF_ERROR(ReadTls(r, &c.tls));
  SMETSMON_RETURN_IF_ERROR(r.Scalar("state_file", &c.state_file));
  return c;
}

}  // namespace

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  Url u;
  u.text = std::string(text);
  const std::string& t = u.text;  // absl::StrCat takes absl::string_view, not std::string_view
  std::string_view rest = text;
  if (absl::StartsWithIgnoreCase(std::string(rest.substr(0, 8)), "https://")) {
    u.tls = true;
    rest.remove_prefix(8);
  } else if (absl::StartsWithIgnoreCase(std::string(rest.substr(0, 7)), "http://")) {
    rest.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("'", t, "' is not an http:// or https:// URL"));
  }
  if (rest.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", t, "' has a fragment"));
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", t, "' carries user info: credentials do not belong in the URL"));
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", t, "' has an unclosed '['"));
    }
    u.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address_v6(u.host, ec);
    (void)addr;
    if (ec) return absl::InvalidArgumentError(absl::StrCat("'", t, "' has a bad IPv6 host"));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError(absl::StrCat("'", t, "' has junk after the host"));
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("'", t, "' has an empty port"));
      }
    }
  } else {
    const size_t colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("'", t, "' has an empty port"));
      }
    }
    if (!std::all_of(u.host.begin(), u.host.end(), IsHostChar)) {
      return absl::InvalidArgumentError(absl::StrCat("'", t, "' has a bad host name"));
    }
  }
  if (u.host.empty()) return absl::InvalidArgumentError(absl::StrCat("'", t, "' has no host"));
  u.port = u.tls ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", t, "' has a bad port '", std::string(port_text), "'"));
    }
    u.port = static_cast<uint16_t>(port);
  }
  return u;
}

bool ParseSeverity(std::string_view name, rules::Severity* out) {
  for (rules::Severity s :
       {rules::Severity::kInfo, rules::Severity::kWarning, rules::Severity::kCritical}) {
    if (name == rules::SeverityName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

absl::StatusOr<WebhookConfig> LoadWebhookConfig(const YAML::Node& section, const std::string& file,
                                                const catalog::AreaTable& areas) {
  WebhookConfig c;
  if (!section || section.IsNull()) return c;
  if (!section.IsMap()) {
    return ConfigError(file, section, "webhooks", "must be a map (receivers, spool_dir, ...)");
  }
  const MapReader r{file, section, "webhooks"};
  SMETSMON_RETURN_IF_ERROR(r.OnlyKeys({"receivers", "spool_dir", "max_age", "dead_max_age",
                                       "spool_max_bytes", "spool_max_files", "backoff",
                                       "circuit_breaker", "external_url", "alertmanager"}));
  SMETSMON_RETURN_IF_ERROR(r.Scalar("spool_dir", &c.spool_dir));
  SMETSMON_RETURN_IF_ERROR(r.Duration("max_age", &c.max_age_ms));
  SMETSMON_RETURN_IF_ERROR(r.Duration("dead_max_age", &c.dead_max_age_ms));
  SMETSMON_RETURN_IF_ERROR(r.Scalar("spool_max_bytes", &c.spool_max_bytes));
  if (c.spool_max_bytes <= 0) return r.Error("spool_max_bytes", "must be a positive byte count");
  SMETSMON_RETURN_IF_ERROR(r.Scalar("spool_max_files", &c.spool_max_files));
  if (c.spool_max_files <= 0) return r.Error("spool_max_files", "must be a positive file count");
  SMETSMON_RETURN_IF_ERROR(r.Scalar("external_url", &c.external_url));
  if (!c.external_url.empty()) {
    auto u = ParseUrl(c.external_url);
    if (!u.ok()) return r.Error("external_url", std::string(u.status().message()));
    while (!c.external_url.empty() && c.external_url.back() == '/') c.external_url.pop_back();
  }
  if (const YAML::Node b = section["backoff"]) {
    if (!b.IsMap()) return r.Error("backoff", "must be a map (initial, max, multiplier, jitter)");
    const MapReader br{file, b, "webhooks.backoff"};
    SMETSMON_RETURN_IF_ERROR(br.OnlyKeys({"initial", "max", "multiplier", "jitter"}));
    SMETSMON_RETURN_IF_ERROR(br.Duration("initial", &c.backoff.initial_ms));
    SMETSMON_RETURN_IF_ERROR(br.Duration("max", &c.backoff.max_ms));
    SMETSMON_RETURN_IF_ERROR(br.Scalar("multiplier", &c.backoff.multiplier));
    SMETSMON_RETURN_IF_ERROR(br.Scalar("jitter", &c.backoff.jitter));
    if (c.backoff.max_ms < c.backoff.initial_ms) {
      return br.Error("max", "must be at least backoff.initial");
    }
    if (!(c.backoff.multiplier >= 1.0 && c.backoff.multiplier <= 100.0)) {
      return br.Error("multiplier", "must be between 1 and 100");
    }
    if (!(c.backoff.jitter >= 0.0 && c.backoff.jitter <= 1.0)) {
      return br.Error("jitter", "must be between 0 and 1");
    }
  }
  if (const YAML::Node cb = section["circuit_breaker"]) {
    if (!cb.IsMap())
      return r.Error("circuit_breaker", "must be a map (failures_to_open, open_for)");
    const MapReader cr{file, cb, "webhooks.circuit_breaker"};
    SMETSMON_RETURN_IF_ERROR(cr.OnlyKeys({"failures_to_open", "open_for"}));
    SMETSMON_RETURN_IF_ERROR(cr.Scalar("failures_to_open", &c.circuit_breaker.failures_to_open));
    SMETSMON_RETURN_IF_ERROR(cr.Duration("open_for", &c.circuit_breaker.open_for_ms));
    if (c.circuit_breaker.failures_to_open < 1) {
      return cr.Error("failures_to_open", "must be at least 1");
    }
  }
  const YAML::Node list = section["receivers"];
  if (list && !list.IsSequence()) return r.Error("receivers", "must be a list");
  if (list) {
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node node = list[i];
      const std::string path = absl::StrCat("webhooks.receivers[", i, "]");
      if (!node.IsMap()) return ConfigError(file, node, path, "must be a map");
      SMETSMON_ASSIGN_OR_RETURN(ReceiverConfig rc,
                                ReadReceiver(MapReader{file, node, path}, areas));
      for (const ReceiverConfig& other : c.receivers) {
        if (other.name == rc.name) {
          return ConfigError(file, node["name"], absl::StrCat(path, ".name"),
                             absl::StrCat("'", rc.name, "' is used by another receiver"));
        }
      }
      c.receivers.push_back(std::move(rc));
    }
  }
  if (const YAML::Node am = section["alertmanager"]) {
    if (!am.IsMap()) return r.Error("alertmanager", "must be a map (url, resend_interval, ...)");
    SMETSMON_ASSIGN_OR_RETURN(c.alertmanager,
                              ReadAlertmanager(MapReader{file, am, "webhooks.alertmanager"}));
    // The spool directory is where the daemon keeps delivery state already: without a word
    // otherwise, what the sink told Alertmanager survives a restart next to it.
    if (!am["state_file"] && !c.spool_dir.empty()) {
      c.alertmanager->state_file = c.spool_dir + "/alertmanager.state";
    }
  }
  if (!c.receivers.empty() && c.spool_dir.empty()) {
    return r.Error("spool_dir", "is required when receivers are configured");
  }
  return c;
}

bool Matches(const ReceiverConfig& receiver, const rules::Finding& f,
             const catalog::AreaTable& areas) {
  if (receiver.kinds.empty()) {
    if (f.kind == rules::FindingKind::kCommsIncident) return false;
  } else if (std::find(receiver.kinds.begin(), receiver.kinds.end(), f.kind) ==
             receiver.kinds.end()) {
    return false;
  }
  if (f.severity < receiver.min_severity) return false;
  if (receiver.areas.empty()) return true;
  if (f.area != kUnknownArea) {
    return std::binary_search(receiver.areas.begin(), receiver.areas.end(), f.area);
  }
  const auto& regions = areas.regions();
  if (std::find(regions.begin(), regions.end(), f.region) == regions.end()) {
    return true;  // national (or a region the table does not know): everyone's concern
  }
  for (AreaId a : receiver.areas) {
    if (areas.RegionLabel(areas.RegionOf(a)) == f.region) return true;
  }
  return false;
}

}  // namespace smetsmon::webhook
