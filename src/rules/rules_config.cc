#include "rules/rules_config.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/fields.h"
#include "base/log.h"
#include "base/yaml_util.h"
#include "smetsmon/status.h"

namespace smetsmon::rules {
namespace {

using yaml::ConfigError;
using yaml::OptionalScalar;
using yaml::ReadDuration;
using yaml::RequiredScalar;

absl::StatusOr<std::vector<catalog::CategoryIndex>> ReadCategories(
    const std::string& file, const YAML::Node& map, const std::string& key,
    const catalog::AlertCatalogue& catalogue) {
  std::vector<catalog::CategoryIndex> out;
  const YAML::Node list = map[key];
  if (!list) return out;
  if (!list.IsSequence()) return ConfigError(file, list, key, "must be a list of categories");
  for (const YAML::Node& c : list) {
    const int index = c.IsScalar() ? catalogue.CategoryIndexOf(c.Scalar()) : -1;
    if (index < 0) {
      return ConfigError(file, c, key,
                         "unknown category '" + (c.IsScalar() ? c.Scalar() : "?") +
                             "' (see alert_catalogue.yaml categories)");
    }
    out.push_back(static_cast<catalog::CategoryIndex>(index));
  }
  return out;
}

absl::StatusOr<AlertCode> ReadCode(const std::string& file, const YAML::Node& map,
                                   const std::string& key) {
  SMETSMON_ASSIGN_OR_RETURN(std::string text, RequiredScalar<std::string>(file, map, key));
  const auto code = ParseAlertCode(text);
  if (!code) return ConfigError(file, map[key], key, "is not an alert code: " + text);
  return *code;
}

absl::StatusOr<Generation> ReadGeneration(const std::string& file, const YAML::Node& map,
                                          const std::string& key, bool required) {
  if (!map[key] && !required) return Generation::kUnknown;
  SMETSMON_ASSIGN_OR_RETURN(int64_t g, RequiredScalar<int64_t>(file, map, key));
  if (g != 1 && g != 2) return ConfigError(file, map[key], key, "must be 1 or 2");
  return static_cast<Generation>(g);
}

absl::Status ReadShare(const std::string& file, const YAML::Node& map, const std::string& key,
                       double* out) {
  SMETSMON_ASSIGN_OR_RETURN(double v, OptionalScalar<double>(file, map, key, *out));
  if (!(v >= 0.0 && v <= 1.0)) {
    return ConfigError(file, map[key], key, "must be a share between 0 and 1");
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ReadPositive(const std::string& file, const YAML::Node& map, const std::string& key,
                          double* out) {
  SMETSMON_ASSIGN_OR_RETURN(double v, OptionalScalar<double>(file, map, key, *out));
  if (!(v > 0.0)) return ConfigError(file, map[key], key, "must be positive");
  *out = v;
  return absl::OkStatus();
}

template <typename T>
absl::Status ReadCount(const std::string& file, const YAML::Node& map, const std::string& key,
                       int64_t min, T* out) {
  SMETSMON_ASSIGN_OR_RETURN(int64_t v,
                            OptionalScalar<int64_t>(file, map, key, static_cast<int64_t>(*out)));
  if (v < min) return ConfigError(file, map[key], key, absl::StrCat("must be at least ", min));
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

// A capacity for all workers together, under `key`; the name it had when it was per worker
// (`old_key`) is still read, as the fleet-wide figure, with a warning to rename it: a capacity
// per worker made the answers depend on the worker count.
absl::Status ReadFleetCapacity(const std::string& file, const YAML::Node& map,
                               const std::string& key, const std::string& old_key, size_t* out) {
  if (!map[old_key]) return ReadCount(file, map, key, 64, out);
  if (map[key]) {
    return ConfigError(file, map[old_key], old_key,
                       absl::StrCat("is the old name of ", key, ": give only ", key));
  }
  Log(LogLevel::kWarn,
      absl::StrCat(old_key, " is now ", key,
                   " (all workers together, the same answers whatever the worker count): "
                   "its value is read as that; please rename it"),
      {{"file", file}});
  return ReadCount(file, map, old_key, 64, out);
}

absl::Status ReadPriorities(const std::string& file, const YAML::Node& root, RulesConfig* config) {
  const YAML::Node list = root["priorities"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return ConfigError(file, list ? list : root, "priorities", "must be a non-empty list");
  }
  if (list.size() > 16) return ConfigError(file, list, "priorities", "at most 16 classes");
  for (const YAML::Node& p : list) {
    PriorityClass c;
    SMETSMON_RETURN_IF_ERROR(
        yaml::CheckKeys(file, p, "priorities",
                        {"name", "target", "target_service_level", "minimum_service_level"}));
    SMETSMON_ASSIGN_OR_RETURN(c.name, RequiredScalar<std::string>(file, p, "name"));
    for (const PriorityClass& other : config->classes) {
      if (other.name == c.name) return ConfigError(file, p, "name", "duplicate class " + c.name);
    }
    if (!p["target"]) return ConfigError(file, p, "target", "is required");
    SMETSMON_RETURN_IF_ERROR(ReadDuration(file, p, "target", &c.target_ms));
    SMETSMON_RETURN_IF_ERROR(ReadShare(file, p, "target_service_level", &c.target_service_level));
    SMETSMON_RETURN_IF_ERROR(ReadShare(file, p, "minimum_service_level", &c.minimum_service_level));
    if (c.minimum_service_level > c.target_service_level) {
      return ConfigError(file, p, "minimum_service_level",
                         "must not be above target_service_level");
    }
    config->classes.push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status ReadHighPriority(const std::string& file, const YAML::Node& root,
                              const catalog::AlertCatalogue& catalogue, RulesConfig* config) {
  const YAML::Node hp = root["high_priority"];
  if (!hp) return absl::OkStatus();
  SMETSMON_RETURN_IF_ERROR(
      yaml::CheckKeys(file, hp, "high_priority", {"class", "categories", "codes"}));
  SMETSMON_ASSIGN_OR_RETURN(std::string cls, RequiredScalar<std::string>(file, hp, "class"));
  for (size_t i = 0; i < config->classes.size(); ++i) {
    if (config->classes[i].name == cls) config->high_priority_class = static_cast<int>(i);
  }
  if (config->high_priority_class < 0) {
    return ConfigError(file, hp["class"], "class", "is not one of the priorities: " + cls);
  }
  SMETSMON_ASSIGN_OR_RETURN(config->high_priority_categories,
                            ReadCategories(file, hp, "categories", catalogue));
  if (const YAML::Node codes = hp["codes"]) {
    if (!codes.IsSequence()) return ConfigError(file, codes, "codes", "must be a list of codes");
    for (const YAML::Node& c : codes) {
      const auto code = c.IsScalar() ? ParseAlertCode(c.Scalar()) : std::nullopt;
      if (!code) return ConfigError(file, c, "codes", "is not an alert code");
      config->high_priority_codes.push_back(*code);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadLatencyBuckets(const std::string& file, const YAML::Node& root,
                                RulesConfig* config) {
  const YAML::Node list = root["latency_buckets"];
  if (!list) {
    config->latency_bounds_ms = {1'000,     5'000,     10'000,         30'000,
                                 60'000,    120'000,   300'000,        600'000,
                                 1'800'000, 3'600'000, 6 * kMsPerHour, 48 * kMsPerHour};
    return absl::OkStatus();
  }
  if (!list.IsSequence() || list.size() == 0 || list.size() > 30) {
    return ConfigError(file, list, "latency_buckets", "must be a list of 1 to 30 durations");
  }
  for (const YAML::Node& b : list) {
    const auto ms = b.IsScalar() ? yaml::ParseDurationMs(b.Scalar()) : std::nullopt;
    if (!ms) return ConfigError(file, b, "latency_buckets", "is not a duration like 30s");
    if (!config->latency_bounds_ms.empty() && *ms <= config->latency_bounds_ms.back()) {
      return ConfigError(file, b, "latency_buckets", "must be ascending");
    }
    config->latency_bounds_ms.push_back(*ms);
  }
  return absl::OkStatus();
}

// `csps`: [{name, regions: [...]}], the PMR's grouping of comms regions. Names unique and not
// empty; a region in at most one CSP (else its alerts would count twice in the CSP views).
absl::Status ReadCsps(const std::string& file, const YAML::Node& root, RulesConfig* config) {
  const YAML::Node list = root["csps"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) return ConfigError(file, list, "csps", "must be a list of CSPs");
  if (list.size() > 16) return ConfigError(file, list, "csps", "at most 16 CSPs");
  for (const YAML::Node& n : list) {
    if (!n.IsMap()) return ConfigError(file, n, "csps", "each must be {name, regions}");
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(file, n, "csps", {"name", "regions"}));
    CspConfig c;
    SMETSMON_ASSIGN_OR_RETURN(c.name, RequiredScalar<std::string>(file, n, "name"));
    if (c.name.empty()) return ConfigError(file, n["name"], "csps.name", "must not be empty");
    for (const CspConfig& other : config->csps) {
      if (other.name == c.name) {
        return ConfigError(file, n["name"], "csps.name", "duplicate CSP '" + c.name + "'");
      }
    }
    const YAML::Node regions = n["regions"];
    if (!regions || !regions.IsSequence() || regions.size() == 0) {
      return ConfigError(file, regions ? regions : n, "csps.regions",
                         "must be a non-empty list of comms regions (areas.yaml regions)");
    }
    for (const YAML::Node& r : regions) {
      if (!r.IsScalar() || r.Scalar().empty()) {
        return ConfigError(file, r, "csps.regions", "must be a comms region name");
      }
      const std::string& region = r.Scalar();
      if (std::find(c.regions.begin(), c.regions.end(), region) != c.regions.end()) {
        return ConfigError(file, r, "csps.regions", "region '" + region + "' listed twice");
      }
      for (const CspConfig& other : config->csps) {
        if (std::find(other.regions.begin(), other.regions.end(), region) != other.regions.end()) {
          return ConfigError(file, r, "csps.regions",
                             "region '" + region + "' is already in CSP '" + other.name +
                                 "' (a region is served by one CSP)");
        }
      }
      c.regions.push_back(region);
    }
    config->csps.push_back(std::move(c));
  }
  return absl::OkStatus();
}

// The CSPs' regions against the area table's comms regions.
absl::Status CheckCspRegions(const std::string& file, const YAML::Node& root,
                             const catalog::AreaTable& areas) {
  const YAML::Node list = root["csps"];
  if (!list || !list.IsSequence()) return absl::OkStatus();
  for (const YAML::Node& n : list) {
    for (const YAML::Node& r : n["regions"]) {
      const std::vector<std::string>& known = areas.regions();
      if (std::find(known.begin(), known.end(), r.Scalar()) == known.end()) {
        std::string list_text;
        for (const std::string& k : known) {
          absl::StrAppend(&list_text, list_text.empty() ? "" : ", ", k);
        }
        return ConfigError(file, r, "csps.regions",
                           absl::StrCat("unknown comms region '", r.Scalar(),
                                        "' (areas.yaml regions: ", list_text, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ReadVoltageWhatIf(const std::string& file, const YAML::Node& root,
                               const catalog::AlertCatalogue& catalogue, RulesConfig* config) {
  const YAML::Node list = root["voltage_whatif"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) return ConfigError(file, list, "voltage_whatif", "must be a list");
  if (list.size() > 16) return ConfigError(file, list, "voltage_whatif", "at most 16 rules");
  for (const YAML::Node& r : list) {
    SMETSMON_RETURN_IF_ERROR(
        yaml::CheckKeys(file, r, "voltage_whatif",
                        {"name", "code", "generation", "direction", "current", "candidates"}));
    VoltageRuleConfig v;
    SMETSMON_ASSIGN_OR_RETURN(v.rule.name, RequiredScalar<std::string>(file, r, "name"));
    SMETSMON_ASSIGN_OR_RETURN(v.code, ReadCode(file, r, "code"));
    if (catalogue.SlotOf(v.code) == catalogue.other_slot()) {
      return ConfigError(file, r["code"], "code", "is not in the alert catalogue");
    }
    SMETSMON_ASSIGN_OR_RETURN(v.generation, ReadGeneration(file, r, "generation", true));
    SMETSMON_ASSIGN_OR_RETURN(std::string dir,
                              OptionalScalar<std::string>(file, r, "direction", "over"));
    if (dir != "over" && dir != "under") {
      return ConfigError(file, r["direction"], "direction", "must be over or under");
    }
    v.rule.over = dir == "over";
    SMETSMON_ASSIGN_OR_RETURN(int64_t current, RequiredScalar<int64_t>(file, r, "current"));
    if (current <= 0 || current > 65535) {
      return ConfigError(file, r["current"], "current", "must be decivolts between 1 and 65535");
    }
    v.rule.current_dv = static_cast<int32_t>(current);
    const YAML::Node cands = r["candidates"];
    if (!cands || !cands.IsSequence() || cands.size() == 0 || cands.size() > 8) {
      return ConfigError(file, cands ? cands : r, "candidates",
                         "must be a list of 1 to 8 levels in decivolts");
    }
    for (const YAML::Node& c : cands) {
      int64_t level = 0;
      try {
        level = c.as<int64_t>();
      } catch (const YAML::Exception&) {
        return ConfigError(file, c, "candidates", "is not a level in decivolts");
      }
      if (level <= 0 || level > 65535) {
        return ConfigError(file, c, "candidates", "must be decivolts between 1 and 65535");
      }
      v.rule.candidates_dv.push_back(static_cast<int32_t>(level));
    }
    for (const VoltageRuleConfig& other : config->voltage_whatif) {
      if (other.code == v.code && other.generation == v.generation) {
        return ConfigError(file, r, "code", "a rule for this code and generation exists already");
      }
    }
    config->voltage_whatif.push_back(std::move(v));
  }
  return absl::OkStatus();
}

absl::Status ReadDnoFloods(const std::string& file, const YAML::Node& root,
                           const catalog::AlertCatalogue& catalogue, RulesConfig* config) {
  const YAML::Node list = root["dno_flood"];
  if (!list) return absl::OkStatus();
  if (!list.IsSequence()) return ConfigError(file, list, "dno_flood", "must be a list");
  for (const YAML::Node& r : list) {
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(
        file, r, "dno_flood", {"name", "generation", "categories", "threshold_per_day"}));
    DnoFloodRule d;
    SMETSMON_ASSIGN_OR_RETURN(d.name, RequiredScalar<std::string>(file, r, "name"));
    SMETSMON_ASSIGN_OR_RETURN(d.generation, ReadGeneration(file, r, "generation", false));
    SMETSMON_ASSIGN_OR_RETURN(d.categories, ReadCategories(file, r, "categories", catalogue));
    if (d.categories.empty()) return ConfigError(file, r, "categories", "must not be empty");
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, r, "threshold_per_day", 1, &d.threshold_per_day));
    config->dno_floods.push_back(std::move(d));
  }
  return absl::OkStatus();
}

absl::Status ReadStorms(const std::string& file, const YAML::Node& root,
                        const catalog::AlertCatalogue& catalogue, RulesConfig* config) {
  const YAML::Node s = root["storms"];
  if (!s) return absl::OkStatus();
  // baseline_half_life is retired: allowed here so that its own error below explains what
  // replaced it.
  SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(
      file, s, "storms",
      {"factor", "floor_per_hour", "clear_ratio", "provisional_factor", "ceiling_per_hour",
       "min_duration", "baseline_half_life", "profile_half_life", "profile_min_coverage",
       "level_half_life", "warmup", "plateau_after", "plateau_tolerance", "rate_window",
       "seed_file", "exclude_categories"}));
  StormConfig& c = config->storm;
  uint64_t ceiling = 0;
  SMETSMON_RETURN_IF_ERROR(ReadPositive(file, s, "factor", &c.factor));
  SMETSMON_RETURN_IF_ERROR(ReadPositive(file, s, "floor_per_hour", &c.floor_per_hour));
  SMETSMON_RETURN_IF_ERROR(ReadShare(file, s, "clear_ratio", &c.clear_ratio));
  SMETSMON_RETURN_IF_ERROR(ReadPositive(file, s, "provisional_factor", &c.provisional_factor));
  if (s["ceiling_per_hour"]) {
    // 0 is allowed: no ceiling.
    SMETSMON_RETURN_IF_ERROR(ReadCount(file, s, "ceiling_per_hour", 0, &ceiling));
    c.ceiling_per_hour = static_cast<double>(ceiling);
  }
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "min_duration", &c.min_duration_ms));
  if (s["baseline_half_life"]) {
    return ConfigError(file, s["baseline_half_life"], "baseline_half_life",
                       "replaced by profile_half_life (the usual rate of each hour of the day, "
                       "in days) and level_half_life (the recent level): see docs/rules.md");
  }
  int64_t profile_half_life_ms = static_cast<int64_t>(c.profile_half_life_days * kMsPerDay);
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "profile_half_life", &profile_half_life_ms));
  if (profile_half_life_ms < kMsPerDay) {
    return ConfigError(file, s["profile_half_life"], "profile_half_life", "must be at least 1d");
  }
  c.profile_half_life_days = static_cast<double>(profile_half_life_ms) / kMsPerDay;
  SMETSMON_RETURN_IF_ERROR(
      ReadDuration(file, s, "profile_min_coverage", &c.profile_min_coverage_ms));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "level_half_life", &c.level_half_life_ms));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "warmup", &c.warmup_ms));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "plateau_after", &c.plateau_after_ms));
  SMETSMON_RETURN_IF_ERROR(ReadShare(file, s, "plateau_tolerance", &c.plateau_tolerance));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, s, "rate_window", &config->storm_rate_window_ms));
  if (config->storm_rate_window_ms != kMsPerMinute &&
      config->storm_rate_window_ms != 5 * kMsPerMinute &&
      config->storm_rate_window_ms != kMsPerHour) {
    return ConfigError(file, s["rate_window"], "rate_window", "must be 1m, 5m or 1h");
  }
  c.rate_window_ms = config->storm_rate_window_ms;
  if (const YAML::Node seed = s["seed_file"]) {
    if (!seed.IsScalar()) return ConfigError(file, seed, "seed_file", "must be a path");
    config->storm_seed_file = seed.as<std::string>();
  }
  if (absl::Status v = c.Validate(); !v.ok()) {
    return ConfigError(file, s, "storms", std::string(v.message()));
  }
  SMETSMON_ASSIGN_OR_RETURN(config->storm_excluded_categories,
                            ReadCategories(file, s, "exclude_categories", catalogue));
  return absl::OkStatus();
}

absl::Status ReadOutages(const std::string& file, const YAML::Node& root, RulesConfig* config) {
  const YAML::Node o = root["outages"];
  if (!o) return absl::OkStatus();
  SMETSMON_RETURN_IF_ERROR(
      yaml::CheckKeys(file, o, "outages",
                      {"window", "min_premises", "min_share", "close_restored_share", "close_quiet",
                       "long_interruption", "comms_min_restorations", "comms_max_matched_share",
                       "final_tally_after"}));
  OutageConfig& c = config->outage;
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, o, "window", &c.window_ms));
  SMETSMON_RETURN_IF_ERROR(ReadCount(file, o, "min_premises", 1, &c.min_premises));
  SMETSMON_RETURN_IF_ERROR(ReadShare(file, o, "min_share", &c.min_share));
  SMETSMON_RETURN_IF_ERROR(ReadShare(file, o, "close_restored_share", &c.close_restored_share));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, o, "close_quiet", &c.close_quiet_ms));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, o, "long_interruption", &c.long_interruption_ms));
  SMETSMON_RETURN_IF_ERROR(
      ReadCount(file, o, "comms_min_restorations", 1, &c.comms_min_restorations));
  SMETSMON_RETURN_IF_ERROR(
      ReadShare(file, o, "comms_max_matched_share", &c.comms_max_matched_share));
  SMETSMON_RETURN_IF_ERROR(ReadDuration(file, o, "final_tally_after", &c.final_tally_after_ms));
  if (c.window_ms <= 0) return ConfigError(file, o["window"], "window", "must be positive");
  if (absl::Status v = c.Validate(); !v.ok()) {
    return ConfigError(file, o, "outages", std::string(v.message()));
  }
  return absl::OkStatus();
}

absl::Status ReadGoNoGo(const std::string& file, const YAML::Node& root, RulesConfig* config) {
  const YAML::Node g = root["gonogo"];
  if (!g) return absl::OkStatus();
  SMETSMON_RETURN_IF_ERROR(
      yaml::CheckKeys(file, g, "gonogo",
                      {"decision_time", "timezone", "history_dir", "history_kept", "recent_days",
                       "planned_installations_per_day", "overall", "criteria"}));
  GoNoGoConfig& c = config->gonogo;
  SMETSMON_ASSIGN_OR_RETURN(std::string at,
                            OptionalScalar<std::string>(file, g, "decision_time", "06:00"));
  int hour = -1, minute = -1;
  char tail = 0;
  if (std::sscanf(at.c_str(), "%d:%d%c", &hour, &minute, &tail) != 2 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59) {
    return ConfigError(file, g["decision_time"], "decision_time", "must be HH:MM, e.g. 06:00");
  }
  c.decision_hour = hour;
  c.decision_minute = minute;
  SMETSMON_ASSIGN_OR_RETURN(c.timezone,
                            OptionalScalar<std::string>(file, g, "timezone", c.timezone));
  SMETSMON_ASSIGN_OR_RETURN(c.history_dir,
                            OptionalScalar<std::string>(file, g, "history_dir", c.history_dir));
  SMETSMON_RETURN_IF_ERROR(ReadCount(file, g, "history_kept", 1, &c.history_kept));
  SMETSMON_RETURN_IF_ERROR(ReadCount(file, g, "recent_days", 1, &c.recent_days));
  if (c.recent_days > 3660) {
    return ConfigError(file, g["recent_days"], "recent_days", "must be at most 3660 (10 years)");
  }
  SMETSMON_RETURN_IF_ERROR(
      ReadCount(file, g, "planned_installations_per_day", 0, &c.planned_installations_per_day));
  SMETSMON_ASSIGN_OR_RETURN(std::string overall,
                            OptionalScalar<std::string>(file, g, "overall", "worst"));
  if (overall == "worst") {
    c.overall = GoNoGoConfig::Overall::kWorst;
  } else if (overall == "majority") {
    c.overall = GoNoGoConfig::Overall::kMajority;
  } else {
    return ConfigError(file, g["overall"], "overall", "must be worst or majority");
  }
  if (const YAML::Node list = g["criteria"]) {
    if (!list.IsSequence()) return ConfigError(file, list, "criteria", "must be a list");
    for (const YAML::Node& n : list) {
      SMETSMON_RETURN_IF_ERROR(
          yaml::CheckKeys(file, n, "gonogo.criteria",
                          {"id", "metric", "explanation", "amber", "red", "lower_is_worse"}));
      CriterionConfig cr;
      SMETSMON_ASSIGN_OR_RETURN(cr.id, RequiredScalar<std::string>(file, n, "id"));
      SMETSMON_ASSIGN_OR_RETURN(cr.metric, RequiredScalar<std::string>(file, n, "metric"));
      SMETSMON_ASSIGN_OR_RETURN(cr.explanation,
                                OptionalScalar<std::string>(file, n, "explanation", ""));
      SMETSMON_ASSIGN_OR_RETURN(cr.amber, RequiredScalar<double>(file, n, "amber"));
      SMETSMON_ASSIGN_OR_RETURN(cr.red, RequiredScalar<double>(file, n, "red"));
      SMETSMON_ASSIGN_OR_RETURN(cr.lower_is_worse,
                                OptionalScalar<bool>(file, n, "lower_is_worse", false));
      c.criteria.push_back(std::move(cr));
    }
  }
  if (absl::Status s = ValidateGoNoGoConfig(c); !s.ok()) {
    return ConfigError(file, g, "gonogo", std::string(s.message()));
  }
  return absl::OkStatus();
}

void ResolveClasses(const catalog::AlertCatalogue& catalogue, RulesConfig* config) {
  // The catalogue's priority names map to classes of the same name; unknown names take the
  // least urgent class.
  const auto class_named = [&](const std::string& name) -> uint8_t {
    for (size_t i = 0; i < config->classes.size(); ++i) {
      if (config->classes[i].name == name) return static_cast<uint8_t>(i);
    }
    return static_cast<uint8_t>(config->classes.size() - 1);
  };
  const auto priority_name = [&](catalog::PriorityIndex p) -> std::string {
    return p < catalogue.priorities().size() ? catalogue.priorities()[p] : std::string();
  };
  config->class_of_slot.assign(catalogue.slot_count(),
                               class_named(priority_name(catalogue.default_priority())));
  for (size_t slot = 0; slot < catalogue.alerts().size(); ++slot) {
    const catalog::AlertInfo& a = catalogue.alerts()[slot];
    uint8_t cls = class_named(priority_name(a.priority));
    if (config->high_priority_class >= 0) {
      const bool listed =
          std::find(config->high_priority_codes.begin(), config->high_priority_codes.end(),
                    a.code) != config->high_priority_codes.end() ||
          std::find(config->high_priority_categories.begin(),
                    config->high_priority_categories.end(),
                    a.category) != config->high_priority_categories.end();
      if (listed) cls = static_cast<uint8_t>(config->high_priority_class);
    }
    config->class_of_slot[slot] = cls;
  }
}

}  // namespace

absl::StatusOr<RulesConfig> LoadRulesConfig(const std::string& path,
                                            const catalog::ReferenceData& ref) {
  SMETSMON_ASSIGN_OR_RETURN(RulesConfig config, LoadRulesConfig(path, *ref.catalogue));
  // The CSPs' regions against the area table (a reload has none to hand: changing the CSP
  // mapping needs a restart, which comes through here).
  if (!config.csps.empty() && ref.areas != nullptr) {
    SMETSMON_ASSIGN_OR_RETURN(YAML::Node root, yaml::LoadYamlFile(path));
    SMETSMON_RETURN_IF_ERROR(
        yaml::GuardYaml(path, [&] { return CheckCspRegions(path, root, *ref.areas); }));
  }
  return config;
}

// The loader's body; LoadRulesConfig turns a yaml-cpp exception escaping it into a Status.
static absl::StatusOr<RulesConfig> LoadRulesConfigUnguarded(
    const std::string& path, const catalog::AlertCatalogue& catalogue) {
  SMETSMON_ASSIGN_OR_RETURN(YAML::Node root, yaml::LoadYamlFile(path));
  if (!root.IsMap()) return ConfigError(path, root, "(top)", "must be a map");
  SMETSMON_RETURN_IF_ERROR(
      yaml::CheckKeys(path, root, "",
                      {"priorities", "high_priority", "latency_buckets", "csps", "voltage_whatif",
                       "noisy_devices", "dno_flood", "capacity", "storms", "outages", "gonogo"}));
  RulesConfig config;
  config.source = path;
  SMETSMON_RETURN_IF_ERROR(ReadPriorities(path, root, &config));
  SMETSMON_RETURN_IF_ERROR(ReadHighPriority(path, root, catalogue, &config));
  SMETSMON_RETURN_IF_ERROR(ReadLatencyBuckets(path, root, &config));
  SMETSMON_RETURN_IF_ERROR(ReadCsps(path, root, &config));
  SMETSMON_RETURN_IF_ERROR(ReadVoltageWhatIf(path, root, catalogue, &config));
  if (const YAML::Node n = root["noisy_devices"]) {
    SMETSMON_RETURN_IF_ERROR(
        yaml::CheckKeys(path, n, "noisy_devices",
                        {"threshold_24h", "top_k", "capacity", "track_codes_from", "track_capacity",
                         "capacity_per_worker", "track_capacity_per_worker"}));
    SMETSMON_RETURN_IF_ERROR(ReadCount(path, n, "threshold_24h", 1, &config.noisy_threshold_24h));
    SMETSMON_RETURN_IF_ERROR(ReadCount(path, n, "top_k", 1, &config.noisy_top_k));
    SMETSMON_RETURN_IF_ERROR(
        ReadFleetCapacity(path, n, "capacity", "capacity_per_worker", &config.noisy_capacity));
    SMETSMON_RETURN_IF_ERROR(
        ReadCount(path, n, "track_codes_from", 1, &config.noisy_track_codes_from));
    SMETSMON_RETURN_IF_ERROR(ReadFleetCapacity(
        path, n, "track_capacity", "track_capacity_per_worker", &config.noisy_track_capacity));
    if (config.noisy_track_codes_from > config.noisy_threshold_24h) {
      // Codes must be counted before a device is noisy; the default follows a low threshold.
      if (n["track_codes_from"]) {
        return ConfigError(path, n, "noisy_devices.track_codes_from",
                           "must not exceed threshold_24h");
      }
      config.noisy_track_codes_from = config.noisy_threshold_24h;
    }
  }
  SMETSMON_RETURN_IF_ERROR(ReadDnoFloods(path, root, catalogue, &config));
  if (const YAML::Node c = root["capacity"]) {
    SMETSMON_RETURN_IF_ERROR(
        yaml::CheckKeys(path, c, "capacity", {"smets1_alerts_per_day", "smets1_installations"}));
    SMETSMON_RETURN_IF_ERROR(
        ReadCount(path, c, "smets1_alerts_per_day", 0, &config.smets1_capacity_per_day));
    SMETSMON_RETURN_IF_ERROR(
        ReadCount(path, c, "smets1_installations", 0, &config.smets1_installations));
  }
  SMETSMON_RETURN_IF_ERROR(ReadStorms(path, root, catalogue, &config));
  SMETSMON_RETURN_IF_ERROR(ReadOutages(path, root, &config));
  SMETSMON_RETURN_IF_ERROR(ReadGoNoGo(path, root, &config));
  ResolveClasses(catalogue, &config);
  return config;
}

absl::StatusOr<RulesConfig> LoadRulesConfig(const std::string& path,
                                            const catalog::AlertCatalogue& catalogue) {
  return yaml::GuardYaml(path, [&] { return LoadRulesConfigUnguarded(path, catalogue); });
}

aggregate::RuleInputsSetup BuildRuleInputsSetup(const RulesConfig& config,
                                                const aggregate::FleetLayout& layout,
                                                int64_t allowed_lateness_ms) {
  aggregate::RuleInputsSetup s;
  const catalog::AreaTable& areas = layout.areas();
  const catalog::AlertCatalogue& catalogue = layout.catalogue();
  s.class_of_slot = config.class_of_slot;
  for (const PriorityClass& c : config.classes) {
    s.class_names.push_back(c.name);
    s.class_target_ms.push_back(c.target_ms);
  }
  s.latency_bounds_ms = config.latency_bounds_ms;
  s.region_slots = areas.regions().size() + 1;
  s.area_slots = layout.area_slots();
  for (size_t slot = 0; slot < layout.area_slots(); ++slot) {
    const RegionId r = areas.RegionOf(areas.FromSlot(slot));
    s.region_of_area_slot.push_back(
        static_cast<uint8_t>(r == kUnknownRegion ? areas.regions().size() : r.value));
  }
  // Each region slot's CSP; the unknown region and regions no CSP serves have none.
  s.csp_of_region_slot.assign(s.region_slots, -1);
  for (const CspConfig& csp : config.csps) {
    for (const std::string& region : csp.regions) {
      for (size_t r = 0; r < areas.regions().size(); ++r) {
        if (areas.regions()[r] == region) {
          s.csp_of_region_slot[r] = static_cast<int8_t>(s.csp_names.size());
        }
      }
    }
    s.csp_names.push_back(csp.name);
  }
  s.dmc_limit = layout.dmc_limit();
  s.voltage_rule_of_cell.assign(catalogue.slot_count() * 2, -1);
  for (const VoltageRuleConfig& v : config.voltage_whatif) {
    const size_t slot = catalogue.SlotOf(v.code);
    const size_t cell = slot * 2 + (v.generation == Generation::kSmets1 ? 0 : 1);
    s.voltage_rule_of_cell[cell] = static_cast<int8_t>(s.voltage_rules.size());
    s.voltage_rules.push_back(v.rule);
    s.max_candidates = std::max(s.max_candidates, v.rule.candidates_dv.size());
  }
  s.noisy_threshold_24h = config.noisy_threshold_24h;
  s.noisy_capacity = config.noisy_capacity;
  s.noisy_track_codes_from = config.noisy_track_codes_from;
  s.noisy_track_capacity = config.noisy_track_capacity;
  s.allowed_lateness_ms = allowed_lateness_ms;
  s.migration = aggregate::MigrationLayout::Make(layout.dmc_limit(), layout.cohort_limit(),
                                                 config.gonogo.recent_days);
  return s;
}

}  // namespace smetsmon::rules
