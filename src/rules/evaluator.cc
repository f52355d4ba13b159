#include "rules/evaluator.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/fields.h"
#include "base/log.h"
#include "rules/csp_delivery.h"
#include "rules/format.h"
#include "rules/state_io.h"

namespace smetsmon::rules {
namespace {

std::string Percent(double share) { return absl::StrFormat("%.1f %%", share * 100.0); }

std::string Volts(int32_t dv) { return absl::StrFormat("%.1f V", dv / 10.0); }

// A part of the evaluator's state (findings, storms, outages, daily decisions): far above any
// bounded state, below what a damaged length could make the reader allocate.
constexpr size_t kMaxPartBytes = size_t{1} << 30;

// Minimum sample before a delivery share is judged (a handful of alerts says little).
constexpr uint64_t kMinDeliverySample = 20;
// ... and before a delivery finding opens on it.
constexpr uint64_t kMinDeliveryFindingSample = 100;

}  // namespace

aggregate::View Evaluator::RateView(const RulesConfig& c) {
  return c.storm_rate_window_ms == kMsPerMinute ? aggregate::View::k1m
         : c.storm_rate_window_ms == kMsPerHour ? aggregate::View::k1h
                                                : aggregate::View::k5m;
}

uint32_t Evaluator::ViewsFor(const RulesConfig& c) {
  return aggregate::Engine::ViewBit(RateView(c)) |
         aggregate::Engine::ViewBit(aggregate::View::k24h);
}

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Create(aggregate::Engine& engine,
                                                             const RulesConfig& config) {
  if (engine.rule_inputs_setup() == nullptr) {
    return absl::FailedPreconditionError("the engine was built without rule inputs");
  }
  auto calendar = LocalCalendar::Load(config.gonogo.timezone);
  if (!calendar.ok()) return calendar.status();
  std::unique_ptr<Evaluator> e(new Evaluator(engine, config, *std::move(calendar)));
  // A seed that cannot be read is a configuration mistake: say so at startup.
  SMETSMON_RETURN_IF_ERROR(e->SeedStorms());
  return e;
}

namespace {
constexpr char kBaselinesMagic[8] = {'S', 'M', 'B', 'A', 'S', 'E', 'L', 'N'};
constexpr uint32_t kBaselinesVersion = 1;
}  // namespace

absl::Status Evaluator::WriteStormBaselines(const std::string& path) const {
  BinaryWriter w(path);
  w.Bytes(kBaselinesMagic, sizeof kBaselinesMagic);
  w.Pod<uint32_t>(kBaselinesVersion);
  w.String(StormContextFingerprint());
  storms_->SaveBaselines(w);
  return w.Finish();
}

void Evaluator::ReseedStorms() {
  if (absl::Status s = SeedStorms(); !s.ok()) {
    Log(LogLevel::kWarn, "storm baselines not seeded: storms learn afresh",
        {{"error", std::string(s.message())}});
  }
}

absl::Status Evaluator::SeedStorms() {
  const std::string& path = config_.storm_seed_file;
  if (path.empty()) return absl::OkStatus();
  const auto refused = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("storms.seed_file ", path, ": ", why,
                     " (write one with `smetsmon replay ... --baselines-out FILE`)"));
  };
  BinaryReader r(path);
  char magic[sizeof kBaselinesMagic] = {};
  r.Bytes(magic, sizeof magic);
  const auto version = r.Pod<uint32_t>();
  if (!r.ok() || std::memcmp(magic, kBaselinesMagic, sizeof magic) != 0) {
    return refused("not a storm baselines file (or unreadable)");
  }
  if (version != kBaselinesVersion) {
    return refused(
        absl::StrCat("format version ", version, ", this build reads ", kBaselinesVersion));
  }
  if (r.String(state_io::kMaxFingerprint) != StormContextFingerprint()) {
    return refused("learned under another storm rate window or excluded categories");
  }
  size_t seeded = 0;
  absl::Status s = storms_->SeedBaselines(r, areas().size(), &seeded);
  if (s.ok()) s = r.Finish();
  if (!s.ok()) return refused(s.message());
  Log(LogLevel::kInfo, "storm baselines seeded",
      {{"path", path}, {"scopes", std::to_string(seeded)}});
  return absl::OkStatus();
}

Evaluator::Evaluator(aggregate::Engine& engine, const RulesConfig& config, LocalCalendar calendar)
    : engine_(&engine),
      config_(config),
      calendar_(calendar),
      storms_(std::make_unique<StormDetector>(config.storm)),
      daily_(config.gonogo, calendar),
      storm_excluded_(engine.layout().categories(), false),
      views_needed_(ViewsFor(config)) {
  outages_ = MakeOutageTracker(config.outage);
  for (catalog::CategoryIndex c : config.storm_excluded_categories) storm_excluded_[c] = true;
}

std::unique_ptr<OutageTracker> Evaluator::MakeOutageTracker(const OutageConfig& config) const {
  OutageConfig c = config;
  c.allowed_lateness_ms = engine_->config().window.allowed_lateness_ms;
  return std::make_unique<OutageTracker>(c, *engine_->ref().areas,
                                         engine_->ref().inventory != nullptr
                                             ? engine_->ref().inventory->premises_by_area()
                                             : std::vector<uint64_t>{});
}

void Evaluator::CloseOpen(FindingKind kind, const std::string& why) {
  const EventTime at{last_eval_ms_ == EventTime::Min().ms ? 0 : last_eval_ms_};
  for (const Finding& f : book_.Open()) {
    if (f.kind != kind) continue;
    Finding updated = f;
    updated.explanation += " " + why;
    book_.Upsert(updated);
    book_.Close(f.id, at);
  }
}

absl::Status Evaluator::Reload(const RulesConfig& next) {
  std::vector<std::string> fixed;
  const auto same_classes = [&] {
    if (next.classes.size() != config_.classes.size()) return false;
    for (size_t i = 0; i < next.classes.size(); ++i) {
      if (next.classes[i].name != config_.classes[i].name ||
          next.classes[i].target_ms != config_.classes[i].target_ms) {
        return false;
      }
    }
    return true;
  };
  if (!same_classes()) fixed.push_back("priorities (names, targets)");
  if (next.latency_bounds_ms != config_.latency_bounds_ms) fixed.push_back("latency_buckets");
  // The histogram's csp label sums regions at export: regrouping them live would move counts
  // between series and make counters go down.
  if (next.csps != config_.csps) fixed.push_back("csps");
  bool same_voltage = next.voltage_whatif.size() == config_.voltage_whatif.size();
  for (size_t i = 0; same_voltage && i < next.voltage_whatif.size(); ++i) {
    const VoltageRuleConfig& a = next.voltage_whatif[i];
    const VoltageRuleConfig& b = config_.voltage_whatif[i];
    same_voltage = a.code == b.code && a.generation == b.generation && a.rule.over == b.rule.over &&
                   a.rule.current_dv == b.rule.current_dv &&
                   a.rule.candidates_dv == b.rule.candidates_dv && a.rule.name == b.rule.name;
  }
  if (!same_voltage) fixed.push_back("voltage_whatif");
  if (next.noisy_threshold_24h != config_.noisy_threshold_24h ||
      next.noisy_capacity != config_.noisy_capacity ||
      next.noisy_track_codes_from != config_.noisy_track_codes_from ||
      next.noisy_track_capacity != config_.noisy_track_capacity) {
    fixed.push_back("noisy_devices.threshold_24h/capacity/track_codes_from/track_capacity");
  }
  if (next.gonogo.timezone != config_.gonogo.timezone) fixed.push_back("gonogo.timezone");
  if (next.gonogo.recent_days != config_.gonogo.recent_days) fixed.push_back("gonogo.recent_days");
  if (!fixed.empty()) {
    std::string list;
    for (const std::string& f : fixed) absl::StrAppend(&list, list.empty() ? "" : ", ", f);
    return absl::FailedPreconditionError(
        absl::StrCat("rules not reloaded: changing ", list, " needs a restart"));
  }
  const bool storms_restart = !(next.storm == config_.storm) ||
                              next.storm_rate_window_ms != config_.storm_rate_window_ms ||
                              next.storm_excluded_categories != config_.storm_excluded_categories;
  if (storms_restart) {
    CloseOpen(FindingKind::kStorm, "(closed by a rules reload: storm detection restarted)");
    storms_ = std::make_unique<StormDetector>(next.storm);
    storm_excluded_.assign(engine_->layout().categories(), false);
    for (catalog::CategoryIndex c : next.storm_excluded_categories) storm_excluded_[c] = true;
  }
  const auto outage_changed = [](const OutageConfig& a, const OutageConfig& b) {
    return a.window_ms != b.window_ms || a.min_premises != b.min_premises ||
           a.min_share != b.min_share || a.close_restored_share != b.close_restored_share ||
           a.close_quiet_ms != b.close_quiet_ms ||
           a.long_interruption_ms != b.long_interruption_ms ||
           a.comms_min_restorations != b.comms_min_restorations ||
           a.comms_max_matched_share != b.comms_max_matched_share;
  };
  if (outage_changed(next.outage, config_.outage)) {
    CloseOpen(FindingKind::kPowerOutage, "(closed by a rules reload: outage detection restarted)");
    CloseOpen(FindingKind::kCommsIncident,
              "(closed by a rules reload: outage detection restarted)");
    book_.EndTallies(FindingKind::kPowerOutage,
                     "(tally ended by a rules reload: outage detection restarted)");
    outages_ = MakeOutageTracker(next.outage);
  } else {
    outages_->set_final_tally_after_ms(next.outage.final_tally_after_ms);
  }
  daily_.Reconfigure(next.gonogo);
  config_ = next;
  views_needed_.store(ViewsFor(config_), std::memory_order_relaxed);
  if (storms_restart) ReseedStorms();
  return absl::OkStatus();
}

// ---- Checkpoint state --------------------------------------------------------------------

std::string Evaluator::StormContextFingerprint() const {
  const std::vector<std::string>& categories = engine_->layout().catalogue().categories();
  std::set<std::string> excluded;  // by name: the catalogue's indices are its own business
  for (catalog::CategoryIndex c : config_.storm_excluded_categories) {
    if (c < categories.size()) excluded.insert(categories[c]);
  }
  state_io::Fingerprint f;
  f.Pod<uint32_t>(1).Pod(config_.storm_rate_window_ms).Pod<uint64_t>(excluded.size());
  for (const std::string& name : excluded) f.String(name);
  return f.Take();
}

void Evaluator::SaveState(BinaryWriter& w) const {
  w.Pod<uint32_t>(kStateVersion);
  w.Pod<int64_t>(last_eval_ms_);
  w.Pod<uint64_t>(evaluations_.load(std::memory_order_relaxed));
  w.Pod<uint64_t>(signals_seen_);
  w.Pod<int64_t>(outages_evaluated_ms_);
  state_io::PutCount(w, logged_open_.size());
  for (const std::string& id : logged_open_) w.String(id);
  {
    // What the last evaluation published and the parts below do not hold.
    std::lock_guard lock(mu_);
    state_io::PutTime(w, published_.evaluated_at);
    w.Pod<uint64_t>(published_.outage_signals_dropped);
    SaveGoNoGoResult(w, published_.gonogo);
  }
  // Each part length-prefixed, so that a part whose layout or settings changed can be skipped
  // (it restarts) while the others come back.
  const auto part = [&w](const auto& save) {
    BinaryWriter p = BinaryWriter::ToMemory();
    save(p);
    w.String(p.TakeBytes());
  };
  part([&](BinaryWriter& p) { book_.Save(p); });
  w.String(StormContextFingerprint());
  part([&](BinaryWriter& p) { storms_->SaveState(p); });
  part([&](BinaryWriter& p) { outages_->SaveState(p); });
  part([&](BinaryWriter& p) { daily_.SaveState(p); });
}

void Evaluator::ResetState() {
  book_ = FindingBook();
  storms_ = std::make_unique<StormDetector>(config_.storm);
  outages_ = MakeOutageTracker(config_.outage);
  daily_ = DailyDecision(config_.gonogo, calendar_);
  last_eval_ms_ = EventTime::Min().ms;
  evaluations_.store(0, std::memory_order_relaxed);
  signals_seen_ = 0;
  outages_evaluated_ms_ = EventTime::Min().ms;
  logged_open_.clear();
  std::lock_guard lock(mu_);
  published_ = RulesSnapshot{};
}

absl::Status Evaluator::LoadState(BinaryReader& r) {
  const auto refuse = [&](absl::string_view why) {
    r.Fail();
    ResetState();
    return absl::DataLossError(absl::StrCat("rules evaluator state refused: ", why));
  };
  // A part's own load: OK (restored), FailedPrecondition (taken under other settings, skipped,
  // its bytes consumed) or DataLoss (malformed: the whole state is refused).
  const auto malformed = [](const absl::Status& s) {
    return !s.ok() && !absl::IsFailedPrecondition(s);
  };

  const auto version = r.Pod<uint32_t>();
  if (!r.ok()) return refuse("truncated");
  if (version != kStateVersion) {
    return refuse(absl::StrCat("format version ", version, ", this build reads version ",
                               kStateVersion,
                               " (an older build's rules state: the rules start afresh)"));
  }
  const int64_t last_eval_ms = state_io::GetTimeMs(r);
  const auto evaluations = r.Pod<uint64_t>();
  const auto signals_seen = r.Pod<uint64_t>();
  const int64_t outages_evaluated_ms = state_io::GetTimeMs(r);
  std::set<std::string> logged_open;
  const uint64_t n_logged = state_io::GetCount(r, uint64_t{1} << 20);
  for (uint64_t i = 0; i < n_logged && r.ok(); ++i)
    logged_open.insert(r.String(state_io::kMaxText));
  const EventTime evaluated_at = state_io::GetTime(r);
  const auto signals_dropped = r.Pod<uint64_t>();
  const GoNoGoResult gonogo = LoadGoNoGoResult(r);
  if (!r.ok()) return refuse("truncated or malformed");

  // One length-prefixed part: its reader must consume it exactly.
  const auto load_part = [&r](const auto& load) -> absl::Status {
    const std::string bytes = r.String(kMaxPartBytes);
    if (!r.ok()) return absl::DataLossError("truncated");
    BinaryReader p = BinaryReader::FromMemory(bytes);
    absl::Status s = load(p);
    if (s.ok()) s = p.Finish();
    return s;
  };
  FindingBook book;
  if (absl::Status s = load_part([&](BinaryReader& p) { return book.Load(p, areas().size()); });
      !s.ok()) {
    return refuse(s.message());
  }
  const std::string storm_context = r.String(state_io::kMaxFingerprint);
  auto storms = std::make_unique<StormDetector>(config_.storm);
  const absl::Status storm_status =
      load_part([&](BinaryReader& p) { return storms->LoadState(p, areas().size()); });
  if (malformed(storm_status)) return refuse(storm_status.message());
  auto outages = MakeOutageTracker(config_.outage);
  const absl::Status outage_status =
      load_part([&](BinaryReader& p) { return outages->LoadState(p); });
  if (malformed(outage_status)) return refuse(outage_status.message());
  DailyDecision daily(config_.gonogo, calendar_);
  bool schedule_rearmed = false;
  const absl::Status daily_status =
      load_part([&](BinaryReader& p) { return daily.LoadState(p, &schedule_rearmed); });
  if (malformed(daily_status)) return refuse(daily_status.message());
  if (!r.ok()) return refuse("truncated or malformed");

  const bool storms_kept = storm_status.ok() && storm_context == StormContextFingerprint();
  book_ = std::move(book);
  storms_ = storms_kept ? std::move(storms) : std::make_unique<StormDetector>(config_.storm);
  outages_ = outage_status.ok() ? std::move(outages) : MakeOutageTracker(config_.outage);
  if (daily_status.ok()) {
    daily_ = std::move(daily);
  } else {
    // A layout this build does not read (a newer build's): the schedule re-arms, the history
    // starts empty (the history files in `history_dir` keep the old decisions).
    daily_ = DailyDecision(config_.gonogo, calendar_);
    Log(LogLevel::kWarn, "rules state: Go/No-Go history not restored",
        {{"reason", std::string(daily_status.message())}});
  }
  last_eval_ms_ = last_eval_ms;
  evaluations_.store(evaluations, std::memory_order_relaxed);
  signals_seen_ = signals_seen;
  outages_evaluated_ms_ = outages_evaluated_ms;
  logged_open_ = std::move(logged_open);
  // As Reload does for a detector whose settings changed: it starts afresh, and the findings it
  // kept open close at the last evaluation (nothing would ever close them otherwise).
  if (!storms_kept) {
    CloseOpen(FindingKind::kStorm,
              "(closed at a restart: the storm settings changed, storm detection restarted)");
    Log(LogLevel::kWarn, "rules state: storm detection restarted",
        {{"reason", "storm settings changed since the checkpoint"}});
    ReseedStorms();
  }
  if (!outage_status.ok()) {
    const char* why =
        "(closed at a restart: the outage settings changed, outage detection restarted)";
    CloseOpen(FindingKind::kPowerOutage, why);
    CloseOpen(FindingKind::kCommsIncident, why);
    book_.EndTallies(FindingKind::kPowerOutage,
                     "(tally ended at a restart: outage detection restarted)");
    Log(LogLevel::kWarn, "rules state: outage detection restarted",
        {{"reason", "outage settings or areas changed since the checkpoint"}});
  }
  if (schedule_rearmed) {
    Log(LogLevel::kInfo, "rules state: Go/No-Go schedule re-armed",
        {{"reason", "decision time or time zone changed since the checkpoint"}});
  }
  PublishRestored(gonogo, evaluated_at, signals_dropped);
  return absl::OkStatus();
}

void Evaluator::PublishRestored(const GoNoGoResult& gonogo, EventTime evaluated_at,
                                uint64_t signals_dropped) {
  RulesSnapshot snap;
  snap.evaluated_at = evaluated_at;
  snap.open_findings = book_.Open();
  snap.closed_findings.assign(book_.closed().begin(), book_.closed().end());
  snap.gonogo = gonogo;
  snap.gonogo_history = daily_.history();
  // A restored decision's overrides may have been recorded after its files were last written.
  const std::optional<GoNoGoResult> latest = daily_.Latest();
  gonogo_files_pending_.store(latest.has_value() && !latest->overrides.empty());
  snap.outage_signals = signals_seen_;
  snap.outage_signals_dropped = signals_dropped;
  FillStorms(&snap);
  std::lock_guard lock(mu_);
  published_ = std::move(snap);
}

void Evaluator::FillStorms(RulesSnapshot* snap) const {
  snap->storm_basis_counts = storms_->CountByBasis();
  snap->storm_plateaus_accepted = storms_->plateaus_accepted();
  snap->storm_scopes_dropped = storms_->dropped_scopes();
  for (const StormDetector::ScopeState* s : storms_->Scopes()) {
    StormScopeRow row;
    row.scope = s->scope.key;
    row.label = s->scope.label;
    row.basis = s->basis;
    row.rate_per_hour = s->last_rate;
    row.expected_per_hour = s->expected;
    row.threshold_per_hour = s->threshold;
    row.level_per_hour = s->level;
    row.known_hours = s->known_hours();
    row.storming = s->storming;
    row.ceiling = s->ceiling;
    row.observed_at = s->last_observed;
    snap->storm_scopes.push_back(std::move(row));
  }
}

void Evaluator::Tick(EventTime now, bool force) {
  if (now == EventTime::Min()) {  // nothing seen yet: only signals to take
    TickWith(engine_->Read(EventTime{0}, EventTime{0}), /*evaluate=*/false);
    return;
  }
  const bool due = force || now.ms - last_eval_ms_ >= interval_ms_;
  TickWith(engine_->Read(now, calendar_.StartOfLocalMonth(now), views_needed()), due);
}

void Evaluator::TickWith(const aggregate::Readings& readings, bool evaluate) {
  const EventTime now = readings.at;
  drained_.clear();
  for (const aggregate::OutageSignalRecord& r : readings.signals) {
    OutageSignal s;
    s.premises = r.premises;
    s.device = r.device;
    s.area = r.area;
    s.time = EventTime{r.time_ms};
    s.kind = r.kind == aggregate::OutageSignalRecord::Kind::kStart ? OutageSignal::Kind::kStart
             : r.kind == aggregate::OutageSignalRecord::Kind::kRestoredLong
                 ? OutageSignal::Kind::kRestoredLong
                 : OutageSignal::Kind::kRestored;
    drained_.push_back(s);
  }
  // When a backlog is read, one tick drains hours of signals while the tracker only looks
  // window + lateness behind its evaluation time: it is evaluated at the signals' own times
  // (every half window), so a burst of AD1 is judged while it is recent, as it would be live.
  // The readings come ordered by time, premises, device and kind.
  const int64_t step_ms = std::max<int64_t>(config_.outage.window_ms / 2, 1);
  for (const OutageSignal& s : drained_) {
    if (evaluate && s.time.ms <= now.ms && s.time.ms - outages_evaluated_ms_ >= step_ms) {
      outages_->Evaluate(s.time, book_);
      outages_evaluated_ms_ = s.time.ms;
    }
    outages_->Add(s);
    ++signals_seen_;
  }
  if (!evaluate) return;
  last_eval_ms_ = now.ms;
  readings_ = &readings;
  Evaluate(now);
  readings_ = nullptr;
}

void Evaluator::Evaluate(EventTime now) {
  evaluations_.store(evaluations_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  RulesSnapshot snap;
  snap.evaluated_at = now;

  const aggregate::View rate_view_kind = RateView(config_);
  const std::vector<uint64_t>& rate_view = readings_->view(rate_view_kind);
  const std::vector<uint64_t>& day_view = readings_->view(aggregate::View::k24h);
  EvaluateStorms(
      now, rate_view,
      static_cast<double>(kMsPerHour) / static_cast<double>(config_.storm_rate_window_ms));
  FillStorms(&snap);
  outages_->Evaluate(now, book_);
  outages_evaluated_ms_ = std::max(outages_evaluated_ms_, now.ms);

  std::vector<uint64_t> flood_alerts_by_area;
  size_t areas_flooded = 0;
  EvaluateDnoFloods(now, day_view, &flood_alerts_by_area, &areas_flooded);

  snap.delivery = BuildDelivery();
  snap.priorities = config_.classes;
  snap.delivery_csp = BuildCspDelivery(config_, snap.delivery, kMinDeliverySample);
  EvaluateDelivery(now, snap.delivery);
  snap.whatif = BuildWhatIf();
  EvaluateNoisy(now, &snap);

  GoNoGoInputs inputs =
      BuildGoNoGoInputs(day_view, snap.delivery, flood_alerts_by_area, areas_flooded, snap);
  snap.gonogo = EvaluateGoNoGo(config_.gonogo, calendar_, inputs, now, /*daily=*/false);
  // A decision overridden since the last evaluation: its files again, before any new decision.
  if (gonogo_files_pending_.exchange(false)) {
    if (std::optional<GoNoGoResult> latest = daily_.Latest()) WriteDecision(*latest);
  }
  if (daily_.Due(now)) {
    GoNoGoResult decision = EvaluateGoNoGo(config_.gonogo, calendar_, inputs, now, /*daily=*/true);
    if (log_events_) {
      Log(LogLevel::kInfo, "gonogo daily decision",
          {{"local_date", decision.local_date},
           {"overall", RagName(decision.overall)},
           {"recommendation", decision.recommendation}});
    }
    WriteDecision(daily_.Record(decision));
  }
  if (log_events_) LogFindingChanges();
  snap.open_findings = book_.Open();
  snap.closed_findings.assign(book_.closed().begin(), book_.closed().end());
  snap.outage_signals = signals_seen_;
  snap.outage_signals_dropped = readings_->signals_dropped;

  std::lock_guard lock(mu_);
  // Copied under mu_: an override (RecordGoNoGoOverride, also under mu_) is in this copy or
  // patched into what is published here.
  snap.gonogo_history = daily_.history();
  published_ = std::move(snap);
}

void Evaluator::WriteDecision(const GoNoGoResult& decision) {
  if (!decision_sink_) return;
  if (absl::Status s = decision_sink_(config_.gonogo, decision); !s.ok()) {
    Log(LogLevel::kError, "gonogo history not written", {{"error", std::string(s.message())}});
  }
}

absl::StatusOr<GoNoGoResult> Evaluator::RecordGoNoGoOverride(GoNoGoOverride o) {
  std::lock_guard lock(mu_);
  absl::StatusOr<GoNoGoResult> decision = daily_.Override(std::move(o));
  if (!decision.ok()) return decision;
  for (auto it = published_.gonogo_history.rbegin(); it != published_.gonogo_history.rend(); ++it) {
    if (it->at == decision->at) {
      *it = *decision;
      break;
    }
  }
  gonogo_files_pending_.store(true);
  return decision;
}

void Evaluator::LogFindingChanges() {
  std::set<std::string> open_now;
  for (const Finding& f : book_.Open()) {
    open_now.insert(f.id);
    if (logged_open_.count(f.id) == 0) {
      Log(f.severity == Severity::kCritical ? LogLevel::kWarn : LogLevel::kInfo, "finding opened",
          {{"id", f.id},
           {"kind", FindingKindName(f.kind)},
           {"severity", SeverityName(f.severity)},
           {"explanation", f.explanation}});
    }
  }
  for (const std::string& id : logged_open_) {
    if (open_now.count(id) == 0) Log(LogLevel::kInfo, "finding closed", {{"id", id}});
  }
  logged_open_ = std::move(open_now);
}

RulesSnapshot Evaluator::Snapshot() const {
  std::lock_guard lock(mu_);
  return published_;
}

void Evaluator::EvaluateStorms(EventTime now, const std::vector<uint64_t>& rate_view,
                               double per_hour) {
  const aggregate::FleetLayout& layout = engine_->layout();
  const catalog::AreaTable& areas = layout.areas();
  const catalog::AlertCatalogue& catalogue = layout.catalogue();
  const size_t categories = layout.categories();
  // The baselines' time of day is the local one: the evening peak follows people's clocks.
  const int hour = calendar_.LocalHour(now);
  // Area x category rates from the main cells (both generations).
  std::vector<uint64_t> by_area_category(layout.area_slots() * categories, 0);
  for (size_t a = 0; a < layout.area_slots(); ++a) {
    for (size_t slot = 0; slot < layout.code_slots(); ++slot) {
      const size_t cat = layout.CategoryOfSlot(slot);
      for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
        by_area_category[a * categories + cat] += rate_view[layout.MainCell(a, slot, g)];
      }
    }
  }
  for (size_t a = 0; a < areas.size(); ++a) {  // known areas only: "unknown" is not a place
    const AreaId area{static_cast<uint8_t>(a)};
    for (size_t cat = 0; cat < categories; ++cat) {
      if (storm_excluded_[cat]) continue;
      const uint64_t n = by_area_category[a * categories + cat];
      StormScope scope;
      scope.key =
          absl::StrCat("area=", areas.area(area).name, " category=", catalogue.categories()[cat]);
      // Scopes with no traffic and no state yet are skipped to keep the scope table small.
      if (n == 0 && storms_->Find(scope.key) == nullptr) continue;
      scope.area = area;
      scope.region = areas.RegionLabel(areas.RegionOf(area));
      scope.label =
          absl::StrCat(areas.area(area).name, " ", catalogue.categories()[cat], " alerts");
      storms_->Observe(now, hour, scope, static_cast<double>(n) * per_hour, book_);
    }
  }
  // SMETS1 DMC x category.
  const catalog::SymbolTable& dmcs = *engine_->ref().dmcs;
  for (const uint16_t d : dmcs.IdsByName()) {  // by name: ids depend on who saw one first
    if (d >= layout.dmc_limit()) continue;
    const std::string_view name = dmcs.Name(d);
    if (name.empty()) continue;
    for (size_t cat = 0; cat < categories; ++cat) {
      if (storm_excluded_[cat]) continue;
      const uint64_t n = rate_view[layout.DmcCell(d, cat)];
      StormScope scope;
      scope.key =
          absl::StrCat("dmc=", std::string(name), " category=", catalogue.categories()[cat]);
      if (n == 0 && storms_->Find(scope.key) == nullptr) continue;
      scope.label = absl::StrCat("SMETS1 DMC ", std::string(name), " ", catalogue.categories()[cat],
                                 " alerts");
      storms_->Observe(now, hour, scope, static_cast<double>(n) * per_hour, book_);
    }
  }
}

void Evaluator::EvaluateDnoFloods(EventTime now, const std::vector<uint64_t>& day_view,
                                  std::vector<uint64_t>* flood_alerts_by_area,
                                  size_t* areas_flooded) {
  const aggregate::FleetLayout& layout = engine_->layout();
  const catalog::AreaTable& areas = layout.areas();
  flood_alerts_by_area->assign(areas.size(), 0);
  std::vector<bool> flooded(areas.size(), false);
  for (size_t rule_i = 0; rule_i < config_.dno_floods.size(); ++rule_i) {
    const DnoFloodRule& rule = config_.dno_floods[rule_i];
    for (size_t a = 0; a < areas.size(); ++a) {
      uint64_t n = 0;
      for (size_t slot = 0; slot < layout.code_slots(); ++slot) {
        const auto cat = static_cast<catalog::CategoryIndex>(layout.CategoryOfSlot(slot));
        if (std::find(rule.categories.begin(), rule.categories.end(), cat) ==
            rule.categories.end()) {
          continue;
        }
        for (Generation g : {Generation::kSmets1, Generation::kSmets2}) {
          if (rule.generation != Generation::kUnknown && g != rule.generation) continue;
          n += day_view[layout.MainCell(a, slot, g)];
        }
      }
      if (rule_i == 0) (*flood_alerts_by_area)[a] = n;
      const catalog::Area& area = areas.area(AreaId{static_cast<uint8_t>(a)});
      const std::string scope = absl::StrCat("area=", area.name, " rule=", rule.name);
      const std::string prefix = absl::StrCat("dno_flood:", scope, ":");
      // One open finding per area x rule.
      const Finding* open = book_.FindOpenByPrefix(prefix);
      if (n > rule.threshold_per_day) {
        flooded[a] = true;
        Finding f;
        f.kind = FindingKind::kDnoFlood;
        f.severity = n > 2 * rule.threshold_per_day ? Severity::kCritical : Severity::kWarning;
        f.area = AreaId{static_cast<uint8_t>(a)};
        f.region = areas.RegionLabel(area.region);
        f.scope = scope;
        f.start = open != nullptr ? open->start : now;
        f.id = open != nullptr ? open->id : absl::StrCat(prefix, now.ms);
        f.explanation = absl::StrCat(area.dno_group, " (", area.name, ") received ", FormatCount(n),
                                     " ", rule.name, " alerts in the last 24 h, over the ",
                                     FormatCount(rule.threshold_per_day), " a day agreed.");
        f.figures = {{"alerts_24h", static_cast<double>(n)},
                     {"threshold_per_day", static_cast<double>(rule.threshold_per_day)}};
        book_.Upsert(std::move(f));
      } else if (open != nullptr) {
        book_.Close(open->id, now);
      }
    }
  }
  *areas_flooded = static_cast<size_t>(std::count(flooded.begin(), flooded.end(), true));
}

std::vector<DeliveryRow> Evaluator::BuildDelivery() {
  std::vector<DeliveryRow> rows;
  const aggregate::RuleInputsSetup& s = *engine_->rule_inputs_setup();
  const catalog::AreaTable& areas = engine_->layout().areas();
  struct Span {
    const char* name;
    std::vector<uint64_t> cells;
  };
  std::vector<Span> spans;
  spans.push_back({"1h", readings_->delivery_1h});
  spans.push_back({"24h", readings_->delivery_24h});
  spans.push_back({"month", readings_->delivery_month});
  for (const Span& span : spans) {
    for (size_t cls = 0; cls < s.class_names.size(); ++cls) {
      // Per region, then all regions together.
      std::vector<uint64_t> all(s.delivery_stride(), 0);
      for (size_t r = 0; r <= s.region_slots; ++r) {
        DeliveryRow row;
        row.priority = s.class_names[cls];
        row.window = span.name;
        row.target_ms = config_.classes[cls].target_ms;
        row.target_service_level = config_.classes[cls].target_service_level;
        row.minimum_service_level = config_.classes[cls].minimum_service_level;
        const uint64_t* cells = nullptr;
        if (r < s.region_slots) {
          cells = &span.cells[s.DeliveryCell(cls, r)];
          for (size_t i = 0; i < s.delivery_stride(); ++i) all[i] += cells[i];
          row.region = r < areas.regions().size() ? areas.regions()[r] : "unknown";
        } else {
          cells = all.data();
          row.region = "all";
        }
        row.latency_buckets.assign(cells, cells + s.latency_buckets());
        row.within_target = cells[s.latency_buckets()];
        row.delivered = cells[s.latency_buckets() + 1];
        if (r < s.region_slots && r == areas.regions().size() && row.delivered == 0) continue;
        JudgeDeliveryRow(row, kMinDeliverySample);  // the rule the CSP rows share
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

void Evaluator::EvaluateDelivery(EventTime now, const std::vector<DeliveryRow>& rows) {
  for (const DeliveryRow& row : rows) {
    if (row.window != "24h" || row.region == "all") continue;
    const std::string prefix =
        absl::StrCat("delivery_below_minimum:priority=", row.priority, " region=", row.region, ":");
    const Finding* open = book_.FindOpenByPrefix(prefix);
    // Hysteresis: open below the minimum on a fair sample; close only once the share is back
    // above the middle of the amber band, so a share hovering at the minimum does not flap.
    const double clear_at = (row.minimum_service_level + row.target_service_level) / 2;
    const bool below = row.rag == Rag::kRed && row.delivered >= kMinDeliveryFindingSample;
    const bool keep = open != nullptr && row.rag != Rag::kUnknown && row.share < clear_at;
    if (below || keep) {
      Finding f;
      f.kind = FindingKind::kDeliveryBelowMinimum;
      f.severity =
          row.priority == config_.classes.front().name ? Severity::kCritical : Severity::kWarning;
      f.region = row.region;
      f.scope = absl::StrCat("priority=", row.priority, " region=", row.region);
      f.start = open != nullptr ? open->start : now;
      f.id = open != nullptr ? open->id : absl::StrCat(prefix, now.ms);
      f.explanation = absl::StrCat(
          Percent(row.share), " of ", row.priority, " alerts in region ", row.region,
          " were delivered within their ", row.target_ms / 1000, " s target in the last 24 h (",
          FormatCount(row.within_target), " of ", FormatCount(row.delivered), "), ",
          row.share < row.minimum_service_level
              ? absl::StrCat("below the minimum service level of ",
                             Percent(row.minimum_service_level), ".")
              : absl::StrCat("back above the minimum of ", Percent(row.minimum_service_level),
                             " but not yet the ", Percent(clear_at), " that clears this."));
      f.figures = {{"share_within_target", row.share},
                   {"delivered", static_cast<double>(row.delivered)},
                   {"minimum_service_level", row.minimum_service_level}};
      book_.Upsert(std::move(f));
    } else if (open != nullptr && row.rag != Rag::kUnknown) {
      book_.Close(open->id, now);  // back above the middle of the amber band
    }
  }
}

std::vector<WhatIfRow> Evaluator::BuildWhatIf() {
  std::vector<WhatIfRow> rows;
  const aggregate::RuleInputsSetup& s = *engine_->rule_inputs_setup();
  if (s.voltage_rules.empty()) return rows;
  const catalog::AreaTable& areas = engine_->layout().areas();
  const catalog::SymbolTable& dmcs = *engine_->ref().dmcs;
  for (aggregate::WindowSpan span : {aggregate::WindowSpan::k1h, aggregate::WindowSpan::k24h}) {
    const std::vector<uint64_t>& cells =
        span == aggregate::WindowSpan::k1h ? readings_->whatif_1h : readings_->whatif_24h;
    const char* window = span == aggregate::WindowSpan::k1h ? "1h" : "24h";
    for (size_t rule_i = 0; rule_i < s.voltage_rules.size(); ++rule_i) {
      const aggregate::VoltageRule& rule = s.voltage_rules[rule_i];
      const size_t n_levels = rule.candidates_dv.size();
      const auto make_row = [&](std::string scope, const uint64_t* c) {
        WhatIfRow row;
        row.rule = rule.name;
        row.scope = std::move(scope);
        row.window = window;
        row.current_dv = rule.current_dv;
        row.levels_dv = rule.candidates_dv;
        row.stopped.assign(c, c + n_levels);
        row.alerts = c[s.max_candidates];
        return row;
      };
      std::vector<uint64_t> all(s.whatif_stride(), 0);
      std::vector<WhatIfRow> scoped;
      for (size_t a = 0; a < s.area_slots; ++a) {
        const uint64_t* c = &cells[s.WhatIfAreaRow(rule_i, a)];
        for (size_t i = 0; i < s.whatif_stride(); ++i) all[i] += c[i];
        if (c[s.max_candidates] == 0) continue;
        const AreaId area = areas.FromSlot(a);
        scoped.push_back(make_row(
            absl::StrCat("area=", area == kUnknownArea ? "unknown" : areas.area(area).name), c));
      }
      std::vector<uint16_t> dmc_ids = {0, 1};  // none, overflow, then by name
      for (const uint16_t d : dmcs.IdsByName()) dmc_ids.push_back(d);
      for (const uint16_t d : dmc_ids) {
        if (d >= s.dmc_limit) continue;
        const uint64_t* c = &cells[s.WhatIfDmcRow(rule_i, d)];
        if (c[s.max_candidates] == 0) continue;
        const std::string_view name = dmcs.Name(d);
        scoped.push_back(make_row(
            absl::StrCat("dmc=", name.empty() ? std::string("none") : std::string(name)), c));
      }
      WhatIfRow total = make_row("all", all.data());
      // The sentence gives every candidate beyond today's level, in the DNO's terms.
      if (total.alerts > 0 && n_levels > 0) {
        std::string parts;
        for (size_t i = 0; i < n_levels; ++i) {
          const int32_t level = rule.candidates_dv[i];
          if (rule.over ? level <= rule.current_dv : level >= rule.current_dv) continue;
          const double share =
              static_cast<double>(total.stopped[i]) / static_cast<double>(total.alerts);
          absl::StrAppend(&parts, parts.empty() ? "" : ", ", FormatCount(total.stopped[i]), " (",
                          Percent(share), ") at ", Volts(level));
        }
        if (!parts.empty()) {
          total.sentence =
              absl::StrCat("Of ", FormatCount(total.alerts), " ", rule.name, " alerts in the last ",
                           window == std::string("1h") ? "hour" : "24 h", ", ",
                           rule.over ? "raising" : "lowering", " the level from ",
                           Volts(rule.current_dv), " would have stopped ", parts, ".");
        }
      }
      rows.push_back(std::move(total));
      for (WhatIfRow& r : scoped) rows.push_back(std::move(r));
    }
  }
  return rows;
}

void Evaluator::EvaluateNoisy(EventTime now, RulesSnapshot* snap) {
  const std::vector<aggregate::NoisyDevice>& noisy = readings_->noisy;
  const catalog::AreaTable& areas = engine_->layout().areas();
  const catalog::SymbolTable& dmcs = *engine_->ref().dmcs;
  snap->noisy_devices = noisy.size();
  snap->noisy_dropped = readings_->noisy_dropped;
  snap->noisy_codes_untracked = readings_->noisy_codes_untracked;
  std::vector<uint64_t> by_area(areas.size() + 1, 0);
  std::map<std::string, uint64_t> by_dmc;
  for (const aggregate::NoisyDevice& d : noisy) {
    ++by_area[areas.Slot(d.area)];
    if (d.generation == Generation::kSmets1) {
      ++snap->noisy_smets1_devices;
      const std::string_view name = dmcs.Name(d.dmc);
      ++by_dmc[name.empty() ? std::string("none") : std::string(name)];
    }
  }
  const auto area_name = [&](size_t slot) {
    const AreaId a = areas.FromSlot(slot);
    return a == kUnknownArea ? std::string("unknown") : areas.area(a).name;
  };
  for (size_t slot = 0; slot < by_area.size(); ++slot) {
    if (by_area[slot] > 0) snap->noisy_by_area.emplace_back(area_name(slot), by_area[slot]);
  }
  snap->noisy_by_dmc.assign(by_dmc.begin(), by_dmc.end());
  // The list is noisiest first: the first K of each area / DMC are its top K.
  const auto make_row = [&](const aggregate::NoisyDevice& d) {
    NoisyRow row;
    row.device_id = FormatDeviceId(DeviceId{d.device});
    row.area = area_name(areas.Slot(d.area));
    row.dmc = std::string(dmcs.Name(d.dmc));
    row.generation = static_cast<int>(d.generation);
    row.alerts_24h = d.alerts_24h;
    for (int c = 0; c < aggregate::NoisyDevice::kTopCodes; ++c) {
      if (d.code_count[c] == 0) continue;
      row.top_codes.emplace_back(FormatAlertCode(AlertCode{d.code[c]}), d.code_count[c]);
    }
    row.other_codes = d.other_count;
    row.untracked = d.untracked;
    return row;
  };
  const size_t k = config_.noisy_top_k;
  for (const aggregate::NoisyDevice& d : noisy) {
    const bool overall = snap->noisy_top.size() < k;
    auto& by_area_list = snap->noisy_top_by_area[area_name(areas.Slot(d.area))];
    const bool in_area = by_area_list.size() < k;
    std::vector<NoisyRow>* by_dmc_list = nullptr;
    if (d.generation == Generation::kSmets1 && !dmcs.Name(d.dmc).empty()) {
      by_dmc_list = &snap->noisy_top_by_dmc[std::string(dmcs.Name(d.dmc))];
      if (by_dmc_list->size() >= k) by_dmc_list = nullptr;
    }
    if (!overall && !in_area && by_dmc_list == nullptr) continue;
    const NoisyRow row = make_row(d);
    if (overall) snap->noisy_top.push_back(row);
    if (in_area) by_area_list.push_back(row);
    if (by_dmc_list != nullptr) by_dmc_list->push_back(row);
  }
  // One finding per area with noisy devices (informational: DNOs and suppliers want the list).
  for (size_t slot = 0; slot < areas.size(); ++slot) {
    const catalog::Area& area = areas.area(AreaId{static_cast<uint8_t>(slot)});
    const std::string prefix = absl::StrCat("noisy_devices:area=", area.name, ":");
    const Finding* open = book_.FindOpenByPrefix(prefix);
    if (by_area[slot] > 0) {
      Finding f;
      f.kind = FindingKind::kNoisyDevices;
      f.severity = Severity::kInfo;
      f.area = AreaId{static_cast<uint8_t>(slot)};
      f.region = areas.RegionLabel(area.region);
      f.scope = absl::StrCat("area=", area.name);
      f.start = open != nullptr ? open->start : now;
      f.id = open != nullptr ? open->id : absl::StrCat(prefix, now.ms);
      f.explanation =
          absl::StrCat(FormatCount(by_area[slot]), " devices in ", area.name, " raised more than ",
                       config_.noisy_threshold_24h, " alerts in the last 24 h.");
      f.figures = {{"noisy_devices", static_cast<double>(by_area[slot])},
                   {"threshold_24h", static_cast<double>(config_.noisy_threshold_24h)}};
      book_.Upsert(std::move(f));
    } else if (open != nullptr) {
      book_.Close(open->id, now);
    }
  }
}

GoNoGoInputs Evaluator::BuildGoNoGoInputs(const std::vector<uint64_t>& day_view,
                                          const std::vector<DeliveryRow>& delivery,
                                          const std::vector<uint64_t>& flood_alerts_by_area,
                                          size_t areas_flooded, const RulesSnapshot& snap) {
  GoNoGoInputs in;
  const aggregate::FleetLayout& layout = engine_->layout();
  const catalog::AreaTable& areas = layout.areas();
  const catalog::Inventory* inventory = engine_->ref().inventory.get();
  const catalog::SymbolTable& dmcs = *engine_->ref().dmcs;

  uint64_t smets1_24h = 0;
  std::vector<uint64_t> smets1_by_area(layout.area_slots(), 0);
  for (size_t a = 0; a < layout.area_slots(); ++a) {
    for (size_t slot = 0; slot < layout.code_slots(); ++slot) {
      const uint64_t n = day_view[layout.MainCell(a, slot, Generation::kSmets1)];
      smets1_by_area[a] += n;
      smets1_24h += n;
    }
  }
  // Installations are premises (a comms hub and its meters count once), as DCC counts them and
  // as the per-DMC table and the migration load do.
  const uint64_t installs =
      inventory != nullptr && inventory->premises_by_generation(Generation::kSmets1) > 0
          ? inventory->premises_by_generation(Generation::kSmets1)
          : config_.smets1_installations;
  MetricValue per_install;
  if (installs > 0) {
    per_install = {static_cast<double>(smets1_24h) / static_cast<double>(installs), true,
                   absl::StrCat(FormatCount(smets1_24h), " SMETS1 alerts in 24 h / ",
                                FormatCount(installs), " installations")};
  } else {
    per_install.detail =
        "no SMETS1 installation count (load an inventory or set capacity.smets1_installations)";
  }
  in.metrics["smets1_alerts_per_installation_per_day"] = per_install;
  MetricValue capacity;
  if (config_.smets1_capacity_per_day > 0) {
    capacity = {
        static_cast<double>(smets1_24h) / static_cast<double>(config_.smets1_capacity_per_day),
        true,
        absl::StrCat(FormatCount(smets1_24h), " of ", FormatCount(config_.smets1_capacity_per_day),
                     " a day")};
  } else {
    capacity.detail = "no capacity configured (capacity.smets1_alerts_per_day)";
  }
  in.metrics["smets1_alerts_24h_share_of_capacity"] = capacity;
  in.metrics["smets1_alerts_24h"] = {static_cast<double>(smets1_24h), true, ""};
  // Migration load: recent vs established installations and the projection (the per-event
  // classification's recent_days is the engine's, fixed for its life).
  in.migration = ComputeMigrationLoad(
      engine_->rule_inputs_setup()->migration, inventory, dmcs, *engine_->ref().cohorts,
      readings_->migration_24h, smets1_24h,
      {config_.gonogo.planned_installations_per_day, config_.smets1_capacity_per_day},
      snap.evaluated_at);
  AddMigrationLoadMetrics(in.migration, &in.metrics);
  in.metrics["noisy_smets1_devices"] = {
      static_cast<double>(snap.noisy_smets1_devices), true,
      absl::StrCat("more than ", config_.noisy_threshold_24h, " alerts in 24 h")};
  in.metrics["noisy_devices"] = {static_cast<double>(snap.noisy_devices), true, ""};
  in.metrics["areas_over_dno_flood_threshold"] = {static_cast<double>(areas_flooded), true, ""};
  const size_t open_storms_outages =
      book_.OpenCount(FindingKind::kStorm) + book_.OpenCount(FindingKind::kPowerOutage);
  in.metrics["open_storms_and_outages"] = {
      static_cast<double>(open_storms_outages), true,
      absl::StrCat(book_.OpenCount(FindingKind::kStorm), " storms, ",
                   book_.OpenCount(FindingKind::kPowerOutage), " power outages")};
  in.metrics["open_comms_incidents"] = {
      static_cast<double>(book_.OpenCount(FindingKind::kCommsIncident)), true, ""};
  for (const DeliveryRow& row : delivery) {
    if (row.region != "all") continue;
    MetricValue v;
    v.available = row.delivered > 0;
    v.value = row.share;
    v.detail = absl::StrCat(FormatCount(row.within_target), " of ", FormatCount(row.delivered),
                            " within ", row.target_ms / 1000, " s");
    in.metrics[absl::StrCat("delivery_within_target_", row.window, ".", row.priority)] = v;
  }
  // The same per CSP, the figure the PMR judges (e.g. "delivery_within_target_24h.critical.csp=CSP
  // North"), so a criterion can hold a CSP to its service level.
  for (const CspDeliveryRow& c : snap.delivery_csp) {
    const DeliveryRow& row = c.delivery;
    MetricValue v;
    v.available = row.delivered > 0;
    v.value = row.share;
    v.detail = absl::StrCat(c.csp, ": ", FormatCount(row.within_target), " of ",
                            FormatCount(row.delivered), " within ", row.target_ms / 1000, " s");
    in.metrics[absl::StrCat("delivery_within_target_", row.window, ".", row.priority,
                            ".csp=", c.csp)] = v;
  }

  // Per-DMC table (SMETS1): alerts in 24 h over every category, installations, noisy devices.
  std::map<std::string, uint64_t> noisy_by_dmc(snap.noisy_by_dmc.begin(), snap.noisy_by_dmc.end());
  for (const uint16_t d : dmcs.IdsByName()) {  // by name: ids depend on who saw one first
    if (d >= layout.dmc_limit()) continue;
    const std::string_view name = dmcs.Name(d);
    if (name.empty()) continue;
    DmcRow row;
    row.dmc = std::string(name);
    for (size_t cat = 0; cat < layout.categories(); ++cat) {
      row.alerts_24h += day_view[layout.DmcCell(d, cat)];
    }
    if (inventory != nullptr && d < inventory->premises_by_dmc().size()) {
      row.installations = inventory->premises_by_dmc()[d];
    }
    row.noisy_devices = noisy_by_dmc[row.dmc];
    if (row.alerts_24h == 0 && row.installations == 0) continue;
    in.dmcs.push_back(std::move(row));
  }
  // Per-area table.
  const uint64_t flood_threshold =
      config_.dno_floods.empty() ? 0 : config_.dno_floods.front().threshold_per_day;
  const std::vector<Finding> open = book_.Open();
  for (size_t a = 0; a < areas.size(); ++a) {
    const AreaId id{static_cast<uint8_t>(a)};
    const catalog::Area& area = areas.area(id);
    AreaRow row;
    row.area = area.name;
    row.dno_group = area.dno_group;
    row.region = areas.RegionLabel(area.region);
    row.smets1_alerts_24h = smets1_by_area[a];
    row.dno_flood_alerts_24h = a < flood_alerts_by_area.size() ? flood_alerts_by_area[a] : 0;
    row.dno_flood_threshold = flood_threshold;
    for (const Finding& f : open)
      row.open_findings += f.area == id && f.kind != FindingKind::kNoisyDevices;
    in.areas.push_back(std::move(row));
  }
  return in;
}

}  // namespace smetsmon::rules
