#include "webhook/payload.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <map>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "smetsmon/status.h"

namespace smetsmon::webhook {
namespace {

using Labels = std::map<std::string, std::string>;

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xF]);
  }
  return out;
}

std::string FormatNumber(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

std::string Where(const rules::Finding& f, const catalog::AreaTable& areas) {
  if (f.area != kUnknownArea && f.area.value < areas.size()) return areas.area(f.area).name;
  const auto& regions = areas.regions();
  if (std::find(regions.begin(), regions.end(), f.region) != regions.end()) {
    return absl::StrCat("the ", f.region, " region");
  }
  return "GB";
}

std::string Summary(const rules::Finding& f, const catalog::AreaTable& areas) {
  const std::string where = Where(f, areas);
  switch (f.kind) {
    case rules::FindingKind::kStorm:
      return absl::StrCat("Alert storm in ", where, " (", f.scope, ")");
    case rules::FindingKind::kPowerOutage:
      return absl::StrCat("Power outage in ", where);
    case rules::FindingKind::kCommsIncident:
      return absl::StrCat("Communications incident in ", where, ": not a power cut");
    case rules::FindingKind::kDnoFlood:
      return absl::StrCat("DNO alert flood in ", where, " (", f.scope, ")");
    case rules::FindingKind::kDeliveryBelowMinimum:
      return absl::StrCat("Alert delivery below the minimum service level in ", where);
    case rules::FindingKind::kNoisyDevices:
      return absl::StrCat("Noisy devices in ", where);
  }
  return absl::StrCat(rules::FindingKindName(f.kind), " in ", where);
}

// Where a receiver can read the findings: the daemon's API, when its external URL is known.
std::string GeneratorUrl(std::string_view external_url) {
  return external_url.empty() ? std::string()
                              : absl::StrCat(std::string(external_url), "/api/v1/findings");
}

void WriteMap(JsonWriter& w, std::string_view key, const Labels& m) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : m) w.Field(k, v);
  w.EndObject();
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  SMETSMON_CHECK(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) == 1);
  return Hex(md, len);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const unsigned char* out =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  SMETSMON_CHECK(out != nullptr);
  return Hex(md, len);
}

std::string SignatureHeader(std::string_view secret, std::string_view body) {
  return absl::StrCat("sha256=", HmacSha256Hex(secret, body));
}

std::string FindingFingerprint(std::string_view finding_id) {
  return Sha256Hex(finding_id).substr(0, 16);
}

AlertContent FindingAlert(const rules::Finding& f, const catalog::AreaTable& areas) {
  AlertContent out;
  Labels& labels = out.labels;
  labels["alertname"] = absl::StrCat("smetsmon_", rules::FindingKindName(f.kind));
  labels["severity"] = rules::SeverityName(f.severity);
  labels["kind"] = rules::FindingKindName(f.kind);
  labels["finding_id"] = f.id;
  if (!f.scope.empty()) labels["scope"] = f.scope;
  if (f.area != kUnknownArea && f.area.value < areas.size()) {
    const catalog::Area& a = areas.area(f.area);
    labels["area"] = a.name;
    labels["distributor_id"] = absl::StrCat(a.distributor_id);
    labels["dno_group"] = a.dno_group;
    labels["region"] = areas.RegionLabel(a.region);
  }
  if (!f.region.empty() && f.region != "unknown") labels["region"] = f.region;
  for (const auto& [name, value] : f.figures) out.annotations[name] = FormatNumber(value);
  out.annotations["summary"] = Summary(f, areas);
  out.annotations["description"] = f.explanation;
  if (!f.open() && f.tally != rules::Tally::kNone && f.tally_until.has_value()) {
    // Closed with a late tally (a power outage): whether these figures are its final tally, and
    // when they will be.
    out.annotations["figures_final"] = f.figures_final() ? "true" : "false";
    out.annotations["final_tally_at"] = FormatRfc3339Utc(f.tally_until->ms);
  }
  return out;
}

std::string BuildPostableAlerts(const std::vector<PostableFinding>& findings,
                                std::string_view external_url, const catalog::AreaTable& areas) {
  const std::string generator_url = GeneratorUrl(external_url);
  JsonWriter w;
  w.BeginArray();
  for (const PostableFinding& p : findings) {
    const AlertContent alert = FindingAlert(*p.finding, areas);
    w.BeginObject();
    WriteMap(w, "labels", alert.labels);
    WriteMap(w, "annotations", alert.annotations);
    w.Field("startsAt", FormatRfc3339Utc(p.finding->start.ms));
    w.Field("endsAt", FormatRfc3339Utc(p.ends_at_ms));
    if (!generator_url.empty()) w.Field("generatorURL", generator_url);
    w.EndObject();
  }
  w.EndArray();
  return w.str();
}

std::string BuildAlertmanagerPayload(const rules::Finding& f, bool resolved,
                                     std::string_view receiver, std::string_view external_url,
                                     const catalog::AreaTable& areas, ProcessingTime now,
                                     bool final_tally) {
  const char* status = resolved || final_tally ? "resolved" : "firing";
  const AlertContent alert = FindingAlert(f, areas);
  const Labels& labels = alert.labels;
  const Labels& annotations = alert.annotations;

  const std::string generator_url = GeneratorUrl(external_url);
  std::string group_key = "{}:{finding_id=\"";
  JsonWriter::Escape(f.id, &group_key);  // Alertmanager quotes label values like Go strings
  group_key.append("\"}");
  std::string ends_at = "0001-01-01T00:00:00Z";
  if (resolved || final_tally) ends_at = FormatRfc3339Utc(f.end ? f.end->ms : now.ms);

  JsonWriter w;
  w.BeginObject();
  w.Field("version", "4");
  w.Field("groupKey", group_key);
  w.Key("truncatedAlerts").Uint(0);
  w.Field("status", status);
  if (final_tally) w.Key("finalTally").Bool(true);
  w.Field("receiver", receiver);
  WriteMap(w, "groupLabels", Labels{{"finding_id", f.id}});
  WriteMap(w, "commonLabels", labels);
  WriteMap(w, "commonAnnotations", annotations);
  w.Field("externalURL", external_url);
  w.Key("alerts").BeginArray();
  w.BeginObject();
  w.Field("status", status);
  WriteMap(w, "labels", labels);
  WriteMap(w, "annotations", annotations);
  w.Field("startsAt", FormatRfc3339Utc(f.start.ms));
  w.Field("endsAt", ends_at);
  w.Field("generatorURL", generator_url);
  w.Field("fingerprint", FindingFingerprint(f.id));
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return w.str();
}

}  // namespace smetsmon::webhook
