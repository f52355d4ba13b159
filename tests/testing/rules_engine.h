// Helpers for rules tests: the shipped rules.yaml, the rule inputs it gives, and a small engine
// built with them (the order the pipeline builds them in: config, setup, engine, evaluator).
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "aggregate/engine.h"
#include "rules/rules_config.h"
#include "testing/fixtures.h"

namespace smetsmon::testing {

// config/rules.yaml over `ref` (a failure is reported and the defaults returned).
inline rules::RulesConfig ShippedRules(const catalog::ReferenceData& ref) {
  auto loaded = rules::LoadRulesConfig(ConfigDir() + "/rules.yaml", ref);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *std::move(loaded) : rules::RulesConfig{};
}

// The per-event rule inputs `config` asks of an engine over `ref` (5 minutes allowed lateness,
// the engine's default).
inline aggregate::RuleInputsSetup RuleInputsFor(const catalog::ReferenceData& ref,
                                                const rules::RulesConfig& config) {
  const aggregate::FleetLayout layout(*ref.areas, *ref.catalogue, *ref.dmcs, *ref.cohorts);
  return rules::BuildRuleInputsSetup(config, layout, 5 * kMsPerMinute);
}

// An engine sized for tests (4 k devices, 64 k duplicate-filter entries) with `setup` as its
// rule inputs (null: none). `setup` must outlive it.
inline std::unique_ptr<aggregate::Engine> SmallEngine(const catalog::ReferenceData& ref,
                                                      size_t workers,
                                                      const aggregate::RuleInputsSetup* setup) {
  aggregate::EngineConfig ec;
  ec.workers = workers;
  ec.expected_devices = 1 << 12;
  ec.dedup_capacity = 1 << 16;
  ec.rule_inputs = setup;
  return std::make_unique<aggregate::Engine>(ref, ec);
}

}  // namespace smetsmon::testing
