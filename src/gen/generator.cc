#include "gen/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/json_writer.h"
#include "decode/fields.h"

namespace smetsmon::gen {
namespace {

struct CodeShare {
  const char* code;
  double share;
  int32_t volt_lo;  // voltage_dv range, or -1 for none
  int32_t volt_hi;
};

// Background mixes [A]: SMETS1 is dominated by 8F40 and 8014 (domain.md); SMETS2 by prepayment,
// firmware and the voltage family. A few unlisted codes ("8F99", DCC "N24") exercise "other".
constexpr CodeShare kSmets1Mix[] = {
    {"8F40", 0.40, 2530, 2560}, {"8014", 0.15, -1, -1}, {"8F35", 0.05, -1, -1},
    {"8F36", 0.02, -1, -1},     {"810D", 0.12, -1, -1}, {"81AA", 0.05, -1, -1},
    {"8F72", 0.05, -1, -1},     {"8F0F", 0.08, -1, -1}, {"8F3F", 0.01, -1, -1},
    {"8F1C", 0.01, -1, -1},     {"8F99", 0.03, -1, -1}, {"81AB", 0.03, -1, -1},
};
constexpr CodeShare kSmets2Mix[] = {
    {"8002", 0.10, 2640, 2700}, {"8006", 0.05, 1950, 1999}, {"8020", 0.02, 2870, 2950},
    {"8024", 0.08, 2530, 2600}, {"8028", 0.02, 1700, 1799}, {"802C", 0.08, 2100, 2160},
    {"8085", 0.05, -1, -1},     {"8089", 0.03, -1, -1},     {"8014", 0.05, -1, -1},
    {"810D", 0.15, -1, -1},     {"81AA", 0.05, -1, -1},     {"81AB", 0.05, -1, -1},
    {"8F72", 0.08, -1, -1},     {"8F35", 0.04, -1, -1},     {"8F36", 0.02, -1, -1},
    {"8F3F", 0.01, -1, -1},     {"8F0F", 0.10, -1, -1},     {"8F99", 0.01, -1, -1},
    {"N24", 0.01, -1, -1},
};

constexpr const char* kMalformedKinds[] = {"not_json",   "not_object",    "missing_field",
                                           "wrong_type", "bad_device_id", "bad_alert_code",
                                           "bad_time"};

// 12 digits + the MPAN check digit (domain.md).
uint64_t MakeMpan(int distributor, uint64_t serial) {
  char d[14];
  std::snprintf(d, sizeof d, "%02d%010llu", distributor,
                static_cast<unsigned long long>(serial % 10'000'000'000ULL));
  static constexpr int kPrimes[] = {3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43};
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (d[i] - '0') * kPrimes[i];
  uint64_t v = 0;
  for (int i = 0; i < 12; ++i) v = v * 10 + static_cast<uint64_t>(d[i] - '0');
  return v * 10 + static_cast<uint64_t>((sum % 11) % 10);
}

void AppendUint(std::string& s, uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, static_cast<size_t>(end - buf));
}

}  // namespace

std::string GeneratedTruth::ToJson() const {
  JsonWriter w;
  w.BeginObject();
  w.Field("lines", lines).Field("valid", valid).Field("unique_valid", unique_valid);
  w.Field("duplicates", duplicates).Field("late", late);
  w.Key("rejected").BeginObject();
  for (const auto& [k, v] : rejected) w.Field(k, v);
  w.EndObject();
  w.Key("alerts_by_category").BeginObject();
  for (const auto& [k, v] : alerts_by_category) w.Field(k, v);
  w.EndObject();
  w.Key("alerts_by_code").BeginObject();
  for (const auto& [k, v] : alerts_by_code) w.Field(k, v);
  w.EndObject();
  w.Field("power_cut_premises", power_cut_premises);
  w.Field("comms_incident_premises", comms_incident_premises);
  w.Field("dmc_flood_alerts", dmc_flood_alerts).Field("pf_flood_alerts", pf_flood_alerts);
  w.Field("first_event", decode::FormatRfc3339Utc(first_event_ms));
  w.Field("last_event", decode::FormatRfc3339Utc(last_event_ms));
  w.EndObject();
  return w.str();
}

Generator::Generator(const catalog::AreaTable& areas, const catalog::AlertCatalogue& catalogue,
                     GeneratorConfig config)
    : areas_(&areas), catalogue_(&catalogue), config_(std::move(config)), rng_(config_.seed) {
  BuildPopulation();
  PlanScenarioEvents();
}

uint64_t Generator::Next() {
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t Generator::Poisson(double mean) {
  if (mean <= 0) return 0;
  if (mean > 30) {
    // Normal approximation (Box-Muller); exact enough for traffic shape, and deterministic.
    const double u1 = std::max(Uniform(), 1e-300);
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * Uniform());
    return static_cast<uint64_t>(std::max(0.0, std::round(mean + std::sqrt(mean) * z)));
  }
  const double limit = std::exp(-mean);
  uint64_t k = 0;
  double p = Uniform();
  while (p > limit) {
    ++k;
    p *= Uniform();
  }
  return k;
}

void Generator::BuildPopulation() {
  std::vector<double> cumulative;
  double total = 0;
  for (const auto& a : areas_->areas()) {
    total += static_cast<double>(std::max<int64_t>(a.meters, 1));
    cumulative.push_back(total);
  }
  premises_.resize(config_.premises);
  for (uint64_t i = 0; i < config_.premises; ++i) {
    Premises& p = premises_[i];
    const double pick = Uniform() * total;
    p.area = static_cast<uint8_t>(std::lower_bound(cumulative.begin(), cumulative.end(), pick) -
                                  cumulative.begin());
    if (p.area >= areas_->size()) p.area = static_cast<uint8_t>(areas_->size() - 1);
    p.smets1 = Uniform() < config_.smets1_share;
    // The first DMC is the biggest estate, as in OPSG minutes; the rest share the remainder.
    const uint64_t dmcs = std::max<size_t>(config_.smets1_dmcs.size(), 1);
    p.dmc = static_cast<uint8_t>(Uniform() < 0.4 ? 0 : Below(dmcs));
    p.cohort = static_cast<uint8_t>(Below(std::max<size_t>(config_.cohorts.size(), 1)));
    p.idno = Uniform() < 0.03;
    const int distributor =
        p.idno ? 24 + static_cast<int>(Below(8)) : areas_->areas()[p.area].distributor_id;
    p.mpan = MakeMpan(distributor, i * 7919 + 1);
    (p.smets1 ? smets1_ : smets2_).push_back(i);
    if (p.smets1 && !config_.smets1_dmcs.empty() &&
        config_.smets1_dmcs[p.dmc] == config_.dmc_flood.dmc) {
      flood_dmc_.push_back(i);
    }
    if (p.smets1 && Uniform() < config_.pf_flood.device_share) pf_devices_.push_back(i);
  }
}

void Generator::PlanScenarioEvents() {
  const int64_t end = config_.start_ms + config_.duration_ms;
  const auto& pc = config_.power_cut;
  if (pc.enabled) {
    const auto gsp = decode::ParseGspGroup(pc.gsp_group);
    const AreaId area = gsp ? areas_->ByGspGroup(*gsp) : kUnknownArea;
    const int64_t cut = config_.start_ms + pc.start_offset_ms;
    const int64_t restore = cut + pc.duration_ms;
    const AlertCode ad1 = *decode::ParseAlertCode("AD1");
    const AlertCode restored =
        *decode::ParseAlertCode(pc.duration_ms >= 3 * kMsPerMinute ? "8F36" : "8F35");
    for (uint64_t i = 0; i < premises_.size(); ++i) {
      if (area == kUnknownArea || premises_[i].area != area.value) continue;
      if (Uniform() >= pc.premises_share) continue;
      const int64_t t_out = cut + static_cast<int64_t>(Below(2 * kMsPerMinute));
      const int64_t t_back = restore + static_cast<int64_t>(Below(2 * kMsPerMinute));
      if (t_back >= end) continue;
      ++truth_.power_cut_premises;
      scenario_.push_back({t_out, i, ad1, -1, true, 0});
      scenario_.push_back({t_back, i, restored, -1, false, 0});
    }
  }
  const auto& ci = config_.comms_incident;
  if (ci.enabled) {
    const int64_t start = config_.start_ms + ci.start_offset_ms;
    const AlertCode r35 = *decode::ParseAlertCode("8F35");
    const AlertCode r36 = *decode::ParseAlertCode("8F36");
    for (uint64_t i = 0; i < premises_.size(); ++i) {
      if (Uniform() >= ci.premises_share) continue;
      const int64_t t =
          start + static_cast<int64_t>(Below(static_cast<uint64_t>(ci.spread_ms) + 1));
      if (t >= end) continue;
      ++truth_.comms_incident_premises;
      scenario_.push_back({t, i, Uniform() < 0.7 ? r35 : r36, -1, false, 0});
    }
  }
  std::stable_sort(scenario_.begin(), scenario_.end(),
                   [](const Planned& a, const Planned& b) { return a.time_ms < b.time_ms; });
}

AlertCode Generator::PickCode(bool smets1, int32_t* voltage_dv) {
  const CodeShare* mix = smets1 ? kSmets1Mix : kSmets2Mix;
  const size_t n = smets1 ? std::size(kSmets1Mix) : std::size(kSmets2Mix);
  double u = Uniform();
  size_t k = 0;
  for (; k + 1 < n; ++k) {
    if (u < mix[k].share) break;
    u -= mix[k].share;
  }
  *voltage_dv =
      mix[k].volt_lo < 0
          ? -1
          : mix[k].volt_lo + static_cast<int32_t>(
                                 Below(static_cast<uint64_t>(mix[k].volt_hi - mix[k].volt_lo + 1)));
  return *decode::ParseAlertCode(mix[k].code);
}

void Generator::PlanBackground(int64_t minute_start, std::vector<Planned>& out) {
  const double s1 = static_cast<double>(smets1_.size()) * config_.smets1_alerts_per_day / 1440.0;
  const double s2 = static_cast<double>(smets2_.size()) * config_.smets2_alerts_per_day / 1440.0;
  for (int gen = 1; gen <= 2; ++gen) {
    const std::vector<uint64_t>& pool = gen == 1 ? smets1_ : smets2_;
    const uint64_t n = Poisson(gen == 1 ? s1 : s2);
    for (uint64_t k = 0; k < n && !pool.empty(); ++k) {
      Planned p{};
      p.time_ms = minute_start + static_cast<int64_t>(Below(kMsPerMinute));
      p.premises = pool[Below(pool.size())];
      p.code = PickCode(gen == 1, &p.voltage_dv);
      p.from_hub = false;
      out.push_back(p);
    }
  }
  const auto in = [&](int64_t offset, int64_t duration) {
    const int64_t s = config_.start_ms + offset;
    return minute_start >= s && minute_start < s + duration;
  };
  const auto& df = config_.dmc_flood;
  if (df.enabled && in(df.start_offset_ms, df.duration_ms) && !flood_dmc_.empty()) {
    const uint64_t n =
        Poisson(static_cast<double>(flood_dmc_.size()) * df.alerts_per_device_per_hour / 60.0);
    for (uint64_t k = 0; k < n; ++k) {
      out.push_back({minute_start + static_cast<int64_t>(Below(kMsPerMinute)),
                     flood_dmc_[Below(flood_dmc_.size())], AlertCode{0x8F40},
                     2530 + static_cast<int32_t>(Below(51)), false, 1});
    }
  }
  const auto& pf = config_.pf_flood;
  if (pf.enabled && in(pf.start_offset_ms, pf.duration_ms) && !pf_devices_.empty()) {
    const uint64_t n =
        Poisson(static_cast<double>(pf_devices_.size()) * pf.alerts_per_device_per_hour / 60.0);
    for (uint64_t k = 0; k < n; ++k) {
      out.push_back({minute_start + static_cast<int64_t>(Below(kMsPerMinute)),
                     pf_devices_[Below(pf_devices_.size())], AlertCode{0x8014}, -1, false, 2});
    }
  }
}

void Generator::FormatEvent(const Planned& p, std::string& line) {
  const Premises& pr = premises_[p.premises];
  const std::string device =
      decode::FormatDeviceId(p.from_hub ? HubId(p.premises) : MeterId(p.premises));
  line.clear();
  line.append("{\"alert_id\":\"90-B3-D5-1F-30-02-00-00:").append(device).push_back(':');
  AppendUint(line, ++alert_counter_);
  line.append("\",\"device_id\":\"").append(device);
  line.append("\",\"alert_code\":\"").append(decode::FormatAlertCode(p.code));
  line.append("\",\"event_time\":");
  // Both contract time formats, as upstream systems differ.
  if (alert_counter_ % 3 == 0) {
    AppendUint(line, static_cast<uint64_t>(p.time_ms));
  } else {
    line.push_back('"');
    line.append(decode::FormatRfc3339Utc(p.time_ms)).push_back('"');
  }
  if (Uniform() < 0.7) {
    // DCC delivery: seconds usually, minutes sometimes (retries).
    const double u = Uniform();
    const int64_t delay = u < 0.9    ? 500 + static_cast<int64_t>(Below(9500))
                          : u < 0.98 ? 10'000 + static_cast<int64_t>(Below(50'000))
                                     : 60'000 + static_cast<int64_t>(Below(240'000));
    line.append(",\"dcc_time\":");
    if (alert_counter_ % 2 == 0) {
      AppendUint(line, static_cast<uint64_t>(p.time_ms + delay));
    } else {
      line.push_back('"');
      line.append(decode::FormatRfc3339Utc(p.time_ms + delay)).push_back('"');
    }
  }
  line.append(",\"smets\":").push_back(pr.smets1 ? '1' : '2');
  line.append(",\"mpxn\":\"");
  AppendUint(line, pr.mpan);
  line.push_back('"');
  if (pr.idno || Uniform() < 0.1) {
    line.append(",\"gsp_group\":\"_").push_back(areas_->areas()[pr.area].gsp_group);
    line.push_back('"');
  }
  if (pr.smets1 && !config_.smets1_dmcs.empty()) {
    line.append(",\"dmc\":\"").append(config_.smets1_dmcs[pr.dmc]);
    line.append("\",\"cohort\":\"").append(config_.cohorts[pr.cohort]).push_back('"');
  }
  if (p.voltage_dv >= 0) {
    line.append(",\"voltage_dv\":");
    AppendUint(line, static_cast<uint64_t>(p.voltage_dv));
  }
}

void Generator::CountValid(const Planned& p, uint32_t weight) {
  ++truth_.valid;
  ++truth_.unique_valid;
  const catalog::CodeSlot slot = catalogue_->SlotOf(p.code);
  truth_.alerts_by_category[catalogue_->categories()[catalogue_->CategoryOfSlot(slot)]] += weight;
  truth_.alerts_by_code[catalogue_->SlotLabel(slot)] += weight;
  if (p.kind == 1) truth_.dmc_flood_alerts += weight;
  if (p.kind == 2) truth_.pf_flood_alerts += weight;
  if (truth_.first_event_ms == 0 || p.time_ms < truth_.first_event_ms) {
    truth_.first_event_ms = p.time_ms;
  }
  truth_.last_event_ms = std::max(truth_.last_event_ms, p.time_ms);
}

void Generator::EmitMalformed(const std::function<void(std::string_view)>& sink) {
  const char* kind = kMalformedKinds[malformed_counter_++ % std::size(kMalformedKinds)];
  const std::string kind_s = kind;
  std::string bad;
  const std::string ok_time = "\"2023-06-26T12:00:00Z\"";
  if (kind_s == "not_json") {
    bad = R"({"alert_id":"x","device_id":"00-DB-00-00-00-00-00-01","alert_code":)";
  } else if (kind_s == "not_object") {
    bad = R"([{"alert_id":"x"}])";
  } else if (kind_s == "missing_field") {
    bad = R"({"device_id":"00-DB-00-00-00-00-00-01","alert_code":"8F40","event_time":)" + ok_time +
          "}";
  } else if (kind_s == "wrong_type") {
    bad =
        R"({"alert_id":"m","device_id":"00-DB-00-00-00-00-00-01","alert_code":"8F40","event_time":)" +
        ok_time + R"(,"smets":"one"})";
  } else if (kind_s == "bad_device_id") {
    bad = R"({"alert_id":"m","device_id":"00-DB-00-00-00","alert_code":"8F40","event_time":)" +
          ok_time + "}";
  } else if (kind_s == "bad_alert_code") {
    bad =
        R"({"alert_id":"m","device_id":"00-DB-00-00-00-00-00-01","alert_code":"8F4","event_time":)" +
        ok_time + "}";
  } else {
    bad =
        R"({"alert_id":"m","device_id":"00-DB-00-00-00-00-00-01","alert_code":"8F40","event_time":"13/11/2019 10:00"})";
  }
  ++truth_.lines;
  ++truth_.rejected[kind_s];
  sink(bad);
}

void Generator::Run(const std::function<void(std::string_view line)>& sink,
                    const std::atomic<bool>* cancel) {
  const int64_t end = config_.start_ms + config_.duration_ms;
  std::vector<Planned> minute;
  size_t next_scenario = 0;
  for (int64_t m = config_.start_ms; m < end; m += kMsPerMinute) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) break;
    minute.clear();
    PlanBackground(m, minute);
    while (next_scenario < scenario_.size() &&
           scenario_[next_scenario].time_ms < m + kMsPerMinute) {
      minute.push_back(scenario_[next_scenario++]);
    }
    std::stable_sort(minute.begin(), minute.end(),
                     [](const Planned& a, const Planned& b) { return a.time_ms < b.time_ms; });
    for (const Planned& p : minute) {
      if (p.time_ms >= end) continue;
      FormatEvent(p, line_);
      uint32_t weight = 1;
      if (Uniform() < 0.001) {
        weight = 2 + static_cast<uint32_t>(Below(49));
        line_.append(",\"throttled_count\":");
        AppendUint(line_, weight);
      }
      line_.push_back('}');
      stream_ms_ = std::max(stream_ms_, p.time_ms);
      ++truth_.lines;
      CountValid(p, weight);
      sink(line_);
      if (Uniform() < config_.duplicate_share) {
        duplicates_.push_back(
            {stream_ms_ + kMsPerMinute + static_cast<int64_t>(Below(29 * kMsPerMinute)), line_});
      }
      // Re-sends that fell due: at most ~31 min of stream time after the original, well inside
      // the monitor's 1 h dedup horizon.
      for (size_t d = 0; d < duplicates_.size();) {
        if (duplicates_[d].due_stream_ms <= stream_ms_) {
          ++truth_.lines;
          ++truth_.valid;
          ++truth_.duplicates;
          sink(duplicates_[d].line);
          duplicates_[d] = std::move(duplicates_.back());
          duplicates_.pop_back();
        } else {
          ++d;
        }
      }
      // A late redelivery: raised 25-47 h before the stream time, i.e. older than the longest
      // window (24 h) plus the allowed lateness (5 min) by a margin of almost an hour. Only once
      // the stream has run 25 h; shorter runs have none.
      if (stream_ms_ - config_.start_ms > 25 * kMsPerHour && Uniform() < config_.late_share) {
        Planned late = p;
        late.time_ms = stream_ms_ - 25 * kMsPerHour -
                       static_cast<int64_t>(Below(22 * static_cast<uint64_t>(kMsPerHour)));
        late.time_ms = std::max(late.time_ms, config_.start_ms);
        late.kind = 0;
        FormatEvent(late, line_);
        line_.push_back('}');
        ++truth_.lines;
        ++truth_.late;
        CountValid(late, 1);
        sink(line_);
      }
      if (Uniform() < config_.malformed_share) EmitMalformed(sink);
    }
  }
  // Re-sends still pending at the end are sent now (still within the horizon).
  for (const PendingDuplicate& d : duplicates_) {
    ++truth_.lines;
    ++truth_.valid;
    ++truth_.duplicates;
    sink(d.line);
  }
  duplicates_.clear();
  truth_.unique_valid = truth_.valid - truth_.duplicates;
}

void Generator::WriteInventoryCsv(std::ostream& out) const {
  out << "device_id,mpxn,gsp_group,smets,dmc,cohort,installed_on\n";
  std::string row;
  for (uint64_t i = 0; i < premises_.size(); ++i) {
    const Premises& p = premises_[i];
    const int64_t installed = 17532 + static_cast<int64_t>(i % 1500);  // from 2018-01-01
    const std::string date = decode::FormatRfc3339Utc(installed * kMsPerDay).substr(0, 10);
    for (const DeviceId id : {HubId(i), MeterId(i)}) {
      row.clear();
      row.append(decode::FormatDeviceId(id)).push_back(',');
      AppendUint(row, p.mpan);
      row.push_back(',');
      if (p.idno) row.append("_").push_back(areas_->areas()[p.area].gsp_group);
      row.append(p.smets1 ? ",1," : ",2,");
      if (p.smets1 && !config_.smets1_dmcs.empty()) {
        row.append(config_.smets1_dmcs[p.dmc]).push_back(',');
        row.append(config_.cohorts[p.cohort]);
      } else {
        row.push_back(',');
      }
      row.push_back(',');
      row.append(date).push_back('\n');
      out << row;
    }
  }
}

}  // namespace smetsmon::gen
