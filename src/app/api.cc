#include "app/api.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "app/gonogo_override.h"
#include "base/fields.h"
#include "base/json_writer.h"
#include "metrics/daemon_metrics.h"
#include "report/gonogo_report.h"
#include "report/rules_json.h"
#include "report/status_html.h"
#include "smetsmon/version.h"

namespace smetsmon::app {

// Both sides are hashed to SHA-256 first and the digests compared in constant time, so the time
// taken says neither how many bytes matched nor how long the token is.
bool BearerMatches(std::string_view authorization, std::string_view expected) {
  unsigned char a[EVP_MAX_MD_SIZE];
  unsigned char b[EVP_MAX_MD_SIZE];
  unsigned int a_len = 0;
  unsigned int b_len = 0;
  if (EVP_Digest(authorization.data(), authorization.size(), a, &a_len, EVP_sha256(), nullptr) !=
          1 ||
      EVP_Digest(expected.data(), expected.size(), b, &b_len, EVP_sha256(), nullptr) != 1 ||
      a_len != b_len) {
    return false;
  }
  return CRYPTO_memcmp(a, b, a_len) == 0;
}

namespace {

http::Response Json(int status, std::string body) {
  return {status, "application/json", std::move(body)};
}

// A message as a JSON string: it may echo the request's path, which is the client's bytes (Beast
// lets any byte past ASCII through), and JSON must be UTF-8, so when it is not, those bytes are
// shown as '?' (a client's JSON parser would refuse the whole answer otherwise).
std::string ValidUtf8(std::string_view message) {
  std::string out(message);
  if (!simdjson::validate_utf8(out.data(), out.size())) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return out;
}

http::Response Error(int status, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Field("error", ValidUtf8(message)).EndObject();
  return Json(status, w.str());
}

bool SameToken(const std::string& authorization, const std::string& expected) {
  return BearerMatches(authorization, expected);
}

// A device's state as JSON, or 404; on its owning worker's thread, from a copy of its state.
// `inputs` (the worker's rule inputs, null without rules) give its alerts by code when counted.
http::Response RenderDevice(const Daemon& d, DeviceId id, const aggregate::DeviceState* found,
                            const aggregate::RuleInputs* inputs) {
  if (found == nullptr) return Error(404, "no alerts seen from device " + FormatDeviceId(id));
  const aggregate::DeviceState& s = *found;
  const catalog::AreaTable& areas = *d.engine->ref().areas;
  JsonWriter w;
  w.BeginObject();
  w.Field("device_id", FormatDeviceId(id));
  w.Field("alerts_24h", s.AlertsIn24h(EventTime{s.last_seen_ms()}));
  // Hourly counts, oldest first, for the 24 hours ending with the hour of the newest alert.
  const int64_t newest_hour = s.last_seen_ms() / kMsPerHour;
  w.Key("hourly_counts").BeginArray();
  for (int64_t h = newest_hour - 23; h <= newest_hour; ++h) {
    w.Uint(s.hour_counts[static_cast<size_t>(((h % 24) + 24) % 24)]);
  }
  w.EndArray();
  // Its alerts by code over the same 24 h as alerts_24h (they add up to it), while its codes are
  // counted (docs/rules.md, "Noisy devices"); null otherwise.
  w.Key("codes_24h");
  const std::optional<aggregate::NoisyDevice> codes =
      inputs != nullptr ? inputs->CodesOf(id.value, s, EventTime{s.last_seen_ms()}) : std::nullopt;
  if (codes.has_value()) {
    w.BeginObject();
    w.Key("top").BeginArray();
    for (int c = 0; c < aggregate::NoisyDevice::kTopCodes; ++c) {
      if (codes->code_count[c] == 0) continue;
      w.BeginObject();
      w.Field("code", FormatAlertCode(AlertCode{codes->code[c]}));
      w.Field("count", codes->code_count[c]);
      w.EndObject();
    }
    w.EndArray();
    w.Field("other_codes", codes->other_count);
    w.Field("untracked", codes->untracked);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("last_alerts").BeginArray();
  for (size_t i = 0; i < s.last_time_s.size(); ++i) {
    if (s.last_time_s[i] == 0) continue;
    w.BeginObject();
    w.Field("code", FormatAlertCode(AlertCode{s.last_code[i]}));
    w.Field("event_time", FormatRfc3339Utc(int64_t{s.last_time_s[i]} * 1000));
    w.EndObject();
  }
  w.EndArray();
  w.Key("last_voltage_dv");
  if (s.has_voltage()) {
    w.Int(s.last_voltage_dv());
  } else {
    w.Null();
  }
  w.Key("open_outage_since");
  if (s.outage_start_s != 0) {
    w.String(FormatRfc3339Utc(int64_t{s.outage_start_s} * 1000));
  } else {
    w.Null();
  }
  w.Field("first_seen_date", FormatRfc3339Utc(int64_t{s.first_seen_day} * kMsPerDay).substr(0, 10));
  w.Field("last_seen", FormatRfc3339Utc(s.last_seen_ms()));
  w.Key("inventory");
  const catalog::Inventory* inv = d.engine->ref().inventory.get();
  const catalog::InventoryRecord* rec = inv != nullptr ? inv->Find(id) : nullptr;
  if (rec != nullptr) {
    w.BeginObject();
    w.Field("area",
            rec->area == kUnknownArea ? std::string("unknown") : areas.area(rec->area).name);
    w.Key("generation").Int(static_cast<int>(rec->generation));
    w.Field("dmc", std::string(d.engine->ref().dmcs->Name(rec->dmc.value)));
    w.Field("cohort", std::string(d.engine->ref().cohorts->Name(rec->cohort.value)));
    w.Field("mpxn", rec->mpxn);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  return Json(200, w.str());
}

// Asked of the device's owning worker, between two of its batches; the answer is rendered there and
// handed to the HTTP session, so the io thread never waits for a worker.
void Device(const Daemon& d, const std::string& id_text, http::Responder respond) {
  const auto id = ParseDeviceId(id_text);
  if (!id) {
    respond(Error(400, "bad device id '" + id_text + "': want 8 hex octets joined by '-'"));
    return;
  }
  if (d.pipeline == nullptr) {
    respond(Error(503, "no ingestion running"));
    return;
  }
  const size_t owner = d.engine->WorkerIndexFor(*id);
  const bool posted = d.pipeline->RunOnWorker(owner, [&d, id = *id, respond](aggregate::Worker& w) {
    respond(RenderDevice(d, id, w.devices().Find(id.value), w.rule_inputs()));
  });
  if (!posted) respond(Error(503, "the device's worker is not running"));
}

http::Response Areas(const Daemon& d) {
  const aggregate::Engine& engine = *d.engine;
  const aggregate::FleetLayout& layout = engine.layout();
  const catalog::AreaTable& areas = layout.areas();
  const catalog::AlertCatalogue& catalogue = layout.catalogue();
  const EventTime now = engine.StreamTime();
  const bool any = now != EventTime::Min();
  const std::vector<uint64_t> hour =
      any ? engine.View(aggregate::View::k1h, now) : std::vector<uint64_t>(layout.total_cells(), 0);
  const std::vector<uint64_t> day = any ? engine.View(aggregate::View::k24h, now)
                                        : std::vector<uint64_t>(layout.total_cells(), 0);
  std::optional<rules::RulesSnapshot> snap;
  if (d.evaluator != nullptr) snap = d.evaluator->Snapshot();
  const catalog::Inventory* inv = engine.ref().inventory.get();
  JsonWriter w;
  w.BeginObject();
  w.Field("stream_time", any ? FormatRfc3339Utc(now.ms) : std::string("none"));
  w.Key("areas").BeginArray();
  for (size_t a = 0; a < areas.size(); ++a) {
    const AreaId id{static_cast<uint8_t>(a)};
    const catalog::Area& area = areas.area(id);
    w.BeginObject();
    w.Field("name", area.name);
    w.Key("distributor_id").Int(area.distributor_id);
    w.Field("gsp_group", std::string("_") + area.gsp_group);
    w.Field("dno_group", area.dno_group);
    w.Field("region", areas.RegionLabel(area.region));
    w.Key("installations");
    if (inv != nullptr && a < inv->premises_by_area().size()) {
      w.Uint(inv->premises_by_area()[a]);
    } else {
      w.Null();
    }
    uint64_t alerts_1h = 0, alerts_24h = 0;
    std::vector<uint64_t> by_category(layout.categories(), 0);
    for (size_t slot = 0; slot < layout.code_slots(); ++slot) {
      for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
        const size_t cell = layout.MainCell(a, slot, g);
        alerts_1h += hour[cell];
        alerts_24h += day[cell];
        by_category[layout.CategoryOfSlot(slot)] += day[cell];
      }
    }
    w.Field("alerts_1h", alerts_1h);
    w.Field("alerts_24h", alerts_24h);
    w.Key("alerts_24h_by_category").BeginObject();
    for (size_t c = 0; c < by_category.size(); ++c) {
      if (by_category[c] != 0) w.Field(catalogue.categories()[c], by_category[c]);
    }
    w.EndObject();
    uint64_t open = 0;
    if (snap) {
      for (const rules::Finding& f : snap->open_findings) open += f.area == id;
    }
    w.Field("open_findings", open);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, w.str());
}

// The alert catalogue as last (re)loaded, with each code's delivery class when rules are on.
http::Response Catalogue(const Daemon& d) {
  const std::shared_ptr<const Daemon::ConfigView> view = d.config_view();
  const catalog::AlertCatalogue& c = *view->catalogue;
  const std::vector<uint8_t>* classes =
      view->class_of_slot.empty() ? nullptr : &view->class_of_slot;
  JsonWriter w;
  w.BeginObject();
  w.Key("categories").BeginArray();
  for (const std::string& name : c.categories()) w.String(name);
  w.EndArray();
  w.Key("priorities").BeginArray();
  for (const std::string& name : c.priorities()) w.String(name);
  w.EndArray();
  w.Field("default_priority", c.priorities()[c.default_priority()]);
  w.Key("alerts").BeginArray();
  for (size_t slot = 0; slot < c.alerts().size(); ++slot) {
    const catalog::AlertInfo& a = c.alerts()[slot];
    w.BeginObject();
    w.Field("code", FormatAlertCode(a.code));
    w.Field("name", a.name);
    w.Field("category", c.categories()[a.category]);
    w.Field("recipient", a.recipient);
    w.Field("priority", c.priorities()[a.priority]);
    w.Key("clear_code");
    if (a.clears.value != 0) {
      w.String(FormatAlertCode(a.clears));
    } else {
      w.Null();
    }
    w.Key("is_clear").Bool(a.is_clear);
    if (classes != nullptr && slot < classes->size()) {
      w.Field("delivery_class", view->class_names[(*classes)[slot]]);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, w.str());
}

// The pages change with every evaluation (a minute of stream time): a browser or proxy asks
// again each time rather than showing a stale Go/No-Go.
http::Response Html(std::string body) {
  http::Response r{200, "text/html; charset=utf-8", std::move(body)};
  r.cache_control = "no-cache";
  return r;
}

// The status page (report/status_html.h), from snapshots only: the rules' last evaluation, the
// fleet's windows (the 24 hourly buckets of each worker, summed per area) and the consumer's
// counters. Nothing per device.
http::Response StatusPage(const Daemon& d) {
  const aggregate::Engine& engine = *d.engine;
  const aggregate::FleetLayout& layout = engine.layout();
  const catalog::AreaTable& areas = layout.areas();
  const EventTime now = engine.StreamTime();
  const bool any = now != EventTime::Min();
  std::optional<rules::RulesSnapshot> snap;
  if (d.evaluator != nullptr) snap = d.evaluator->Snapshot();
  SystemClock system_clock;
  const Clock& clock = d.clock != nullptr ? *d.clock : system_clock;

  report::StatusPageInput in;
  in.version = absl::StrCat(kVersion, " (revision ", kRevision, ")");
  in.stream_time = now;
  in.generated_at_ms = clock.Now().ms;
  in.rules = snap ? &*snap : nullptr;
  in.areas.resize(areas.size());
  // Alerts of one area in a view: its main cells (every code slot, both generations).
  auto area_sum = [&](const std::vector<uint64_t>& cells, size_t a) {
    uint64_t n = 0;
    for (size_t slot = 0; slot < layout.code_slots(); ++slot) {
      for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
        n += cells[layout.MainCell(a, slot, g)];
      }
    }
    return n;
  };
  for (size_t a = 0; a < areas.size(); ++a) {
    const catalog::Area& area = areas.area(AreaId{static_cast<uint8_t>(a)});
    in.areas[a].name = area.name;
    in.areas[a].dno_group = area.dno_group;
    in.areas[a].region = areas.RegionLabel(area.region);
  }
  if (any) {
    const std::vector<uint64_t> hour = engine.View(aggregate::View::k1h, now);
    const std::vector<uint64_t> day = engine.View(aggregate::View::k24h, now);
    std::vector<uint64_t> bucket(layout.total_cells());
    for (int k = 0; k < 24; ++k) {
      std::fill(bucket.begin(), bucket.end(), 0);
      const EventTime t{now.ms - int64_t{k} * kMsPerHour};
      for (size_t i = 0; i < engine.worker_count(); ++i) {
        engine.worker(i).fleet().SumHour(t, bucket);
      }
      for (size_t a = 0; a < areas.size(); ++a) {
        in.areas[a].hourly[static_cast<size_t>(23 - k)] = area_sum(bucket, a);
      }
    }
    for (size_t a = 0; a < areas.size(); ++a) {
      in.areas[a].alerts_1h = area_sum(hour, a);
      in.areas[a].alerts_24h = area_sum(day, a);
    }
  }
  if (d.ingest != nullptr) {
    const ingest::KafkaStats stats = d.ingest->stats();
    in.consumer.present = true;
    in.consumer.assigned_partitions = stats.assigned_partitions;
    in.consumer.consumed = stats.consumed;
    in.consumer.applied = stats.applied;
    in.consumer.dead_lettered = stats.dead_lettered;
    in.consumer.ready = d.ingest->Ready(d.ready_max_lag_messages);
    for (const ingest::PartitionLag& lag : d.ingest->Lag(clock.Now())) {
      if (lag.messages > 0) in.consumer.lag_messages += lag.messages;
      in.consumer.lag_seconds = std::max(in.consumer.lag_seconds, lag.seconds);
    }
  }
  return Html(report::RenderStatusPage(in));
}

// GET /reports/gonogo/latest.html and /reports/gonogo/<YYYY-MM-DD>.html: a daily decision of the
// history the rules keep in memory (gonogo.history_kept) as the HTML report.
http::Response GoNoGoReport(const Daemon& d, const std::string& path) {
  constexpr std::string_view kPrefix = "/reports/gonogo/";
  constexpr std::string_view kSuffix = ".html";
  if (path.size() <= kPrefix.size() + kSuffix.size() ||
      path.compare(path.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return Error(404, "not found: " + path);
  }
  if (d.evaluator == nullptr) return Error(404, "rules are off: no rules.yaml");
  const std::string date =
      path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  const rules::RulesSnapshot snap = d.evaluator->Snapshot();
  const std::vector<rules::GoNoGoResult>& h = snap.gonogo_history;
  if (date == "latest") {
    if (h.empty()) return Error(404, "no daily Go/No-Go decision yet");
    return Html(report::GoNoGoToHtml(h.back()));
  }
  for (auto it = h.rbegin(); it != h.rend(); ++it) {
    if (it->local_date == date) return Html(report::GoNoGoToHtml(*it));
  }
  return Error(404, "no daily Go/No-Go decision for " + date);
}

}  // namespace

namespace {

http::Response Answer(const Daemon& d, const http::Request& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    const bool ready = d.ingest != nullptr && d.ingest->Ready(d.ready_max_lag_messages);
    return {ready ? 200 : 503, "text/plain; charset=utf-8", ready ? "ready\n" : "not ready\n"};
  }
  if (path == "/metrics") {
    if (d.metrics_require_token && !SameToken(request.authorization, "Bearer " + d.bearer_token)) {
      return Error(401, "missing or wrong bearer token");
    }
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            metrics::RenderText({d.metrics.get(), d.rules_metrics.get(), d.webhook_metrics.get(),
                                 &d.process_metrics, &d.config_metrics, d.http_metrics.get()})};
  }
  // The status page and the reports show fleet-level data as /api/v1 does: the same token.
  const bool page = path == "/" || path.rfind("/reports/gonogo/", 0) == 0;
  if (!page && path.rfind("/api/v1/", 0) != 0) return Error(404, "not found: " + path);
  if (!d.bearer_token.empty() && !SameToken(request.authorization, "Bearer " + d.bearer_token)) {
    return Error(401, "missing or wrong bearer token");
  }
  if (path == "/") return StatusPage(d);
  if (page) return GoNoGoReport(d, path);
  if (path == "/api/v1/areas") return Areas(d);
  if (path == "/api/v1/catalogue") return Catalogue(d);
  if (d.evaluator == nullptr) return Error(404, "rules are off: no rules.yaml");
  const rules::RulesSnapshot snap = d.evaluator->Snapshot();
  JsonWriter w;
  if (path == "/api/v1/findings") {
    report::WriteFindings(w, snap);
  } else if (path == "/api/v1/whatif") {
    report::WriteWhatIf(w, snap.whatif);
  } else if (path == "/api/v1/gonogo") {
    report::WriteGoNoGo(w, snap);
  } else if (path == "/api/v1/delivery") {
    report::WriteDelivery(w, snap.delivery, snap.delivery_csp,
                          d.engine->rule_inputs_setup()->latency_bounds_ms);
  } else if (path == "/api/v1/storms") {
    report::WriteStorms(w, snap);
  } else if (path == "/api/v1/top") {
    report::WriteNoisy(w, snap);
  } else {
    return Error(404, "not found: " + path);
  }
  return Json(200, w.str());
}

// POST /api/v1/gonogo/override (app/gonogo_override.h): an override changes what the OPSG is
// told, so it is refused unless a bearer token is configured (403) and given (401).
http::Response GoNoGoOverride(const Daemon& d, const http::Request& request) {
  if (request.method != "POST") return Error(405, "method not allowed: POST an override");
  if (d.bearer_token.empty()) {
    return Error(403,
                 "Go/No-Go overrides need a bearer token: configure http.bearer_token_file or "
                 "http.bearer_token_env and send Authorization: Bearer <token>");
  }
  if (!SameToken(request.authorization, "Bearer " + d.bearer_token)) {
    return Error(401, "missing or wrong bearer token");
  }
  if (d.evaluator == nullptr) return Error(404, "rules are off: no rules.yaml");
  SystemClock system_clock;
  const Clock& clock = d.clock != nullptr ? *d.clock : system_clock;
  return RecordGoNoGoOverride(*d.evaluator, request.body, clock.Now());
}

}  // namespace

void HandleHttp(const Daemon& d, const http::Request& request, http::Responder respond) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == "/api/v1/gonogo/override") {
    respond(GoNoGoOverride(d, request));
    return;
  }
  if (request.method == "POST") {  // every other path is read-only
    respond(Error(405, absl::StrCat("method not allowed: ", path, " is read-only")));
    return;
  }
  if (path.rfind("/api/v1/devices/", 0) == 0) {
    if (!d.bearer_token.empty() && !SameToken(request.authorization, "Bearer " + d.bearer_token)) {
      respond(Error(401, "missing or wrong bearer token"));
      return;
    }
    Device(d, path.substr(std::string("/api/v1/devices/").size()), std::move(respond));
    return;
  }
  respond(Answer(d, request));
}

}  // namespace smetsmon::app
