// The rules configuration (config/rules.yaml): priority classes and delivery targets, the
// high-priority list, voltage what-if levels, noisy-device and DNO-flood thresholds, storm and
// outage detection, and the SMETS1 Go/No-Go criteria. Loaded and validated at startup (and on
// reload); every mistake names the file, line and field.
//
// Immutable once loaded; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aggregate/fleet.h"
#include "aggregate/rule_inputs.h"
#include "catalog/reference_data.h"
#include "rules/gonogo.h"
#include "rules/outage.h"
#include "rules/storm.h"

namespace smetsmon::rules {

struct PriorityClass {
  std::string name;
  int64_t target_ms = 0;
  double target_service_level = 0.95;   // green at or above
  double minimum_service_level = 0.90;  // red below
};

struct VoltageRuleConfig {
  AlertCode code{0};
  Generation generation = Generation::kSmets1;
  aggregate::VoltageRule rule;
};

// A Communication Service Provider as the SEC's Performance Measurement Report groups delivery:
// the DCC comms regions (areas.yaml `regions`) it serves.
struct CspConfig {
  std::string name;                  // "CSP North"
  std::vector<std::string> regions;  // ["north"]
  bool operator==(const CspConfig&) const = default;
};

struct DnoFloodRule {
  std::string name;
  Generation generation = Generation::kUnknown;  // kUnknown = any generation
  std::vector<catalog::CategoryIndex> categories;
  uint64_t threshold_per_day = 2000;
};

struct RulesConfig {
  std::string source;  // the file it came from ("" = built-in defaults)

  std::vector<PriorityClass> classes;
  int high_priority_class = -1;  // index into classes, -1 = no high-priority list
  std::vector<catalog::CategoryIndex> high_priority_categories;
  std::vector<AlertCode> high_priority_codes;
  std::vector<int64_t> latency_bounds_ms;
  // Delivery per CSP (`csps`): names unique, each region in at most one CSP; empty = no CSP
  // views (the latency histogram then says csp="unknown" throughout).
  std::vector<CspConfig> csps;

  std::vector<VoltageRuleConfig> voltage_whatif;

  uint32_t noisy_threshold_24h = 100;
  size_t noisy_top_k = 20;
  // Devices listed as noisy, all workers together (a quota per virtual shard: the same devices
  // whatever the worker count).
  size_t noisy_capacity = 100'000;
  // A device's codes are counted from when its 24 h count reaches this (<= threshold), for at
  // most noisy_track_capacity devices below the threshold (all workers together, a quota per
  // virtual shard): a noisy device's codes are exact.
  uint32_t noisy_track_codes_from = 3;
  size_t noisy_track_capacity = 400'000;

  std::vector<DnoFloodRule> dno_floods;

  uint64_t smets1_capacity_per_day = 0;  // 0 = unknown
  uint64_t smets1_installations = 0;     // used when no inventory is loaded; 0 = unknown

  StormConfig storm;
  int64_t storm_rate_window_ms = 5 * kMsPerMinute;
  // Categories the storm detector leaves alone (outages have their own detector).
  std::vector<catalog::CategoryIndex> storm_excluded_categories;
  // Learned baselines to start from when the detector has none (`storms.seed_file`, written by
  // `smetsmon replay --baselines-out`); "" = learn from nothing.
  std::string storm_seed_file;
  OutageConfig outage;
  GoNoGoConfig gonogo;

  // Priority class of each catalogue code slot (high-priority list first, then the catalogue's
  // own priority by name, else the last class).
  std::vector<uint8_t> class_of_slot;
};

// Loads config/rules.yaml (`path`), resolving codes, categories and classes against the
// catalogue, and the CSPs' regions against the area table. A missing file is an error; use
// DefaultRulesConfig for built-in defaults.
absl::StatusOr<RulesConfig> LoadRulesConfig(const std::string& path,
                                            const catalog::ReferenceData& ref);
// The same against a given catalogue (a reload resolves the rules against the reloaded one); the
// CSPs' region names are not checked (the CSP mapping needs a restart: Evaluator::Reload refuses
// a changed one).
absl::StatusOr<RulesConfig> LoadRulesConfig(const std::string& path,
                                            const catalog::AlertCatalogue& catalogue);

// What the per-event path needs from the rules (shared by the workers for the engine's life).
aggregate::RuleInputsSetup BuildRuleInputsSetup(const RulesConfig& config,
                                                const aggregate::FleetLayout& layout,
                                                int64_t allowed_lateness_ms);

}  // namespace smetsmon::rules
