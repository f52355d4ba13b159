#include "app/reload.h"

#include <memory>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/log.h"
#include "catalog/alert_catalogue.h"

namespace smetsmon::app {
namespace {

using File = metrics::ConfigMetrics::File;

// Sends the new class table to every worker; each takes it between two of its batches.
void SendClassTable(Daemon& d, const std::vector<uint8_t>& table) {
  auto shared = std::make_shared<const std::vector<uint8_t>>(table);
  for (size_t i = 0; i < d.engine->worker_count(); ++i) {
    d.pipeline->RunOnWorker(i, [shared](aggregate::Worker& w) {
      if (aggregate::RuleInputs* inputs = w.rule_inputs()) inputs->SetClassOfSlot(shared);
    });
  }
}

}  // namespace

bool ReloadConfig(Daemon& d, const ConfigPaths& paths, ProcessingTime now) {
  const std::shared_ptr<const Daemon::ConfigView> running = d.config_view();
  // 1. The catalogue, laid out in the running slots; refused: the rules use the running one.
  std::shared_ptr<const catalog::AlertCatalogue> next_catalogue;
  if (auto loaded = catalog::AlertCatalogue::Load(paths.catalogue); !loaded.ok()) {
    Log(LogLevel::kError, "reload refused: alert catalogue invalid",
        {{"path", paths.catalogue}, {"error", std::string(loaded.status().message())}});
    d.config_metrics.Record(File::kAlertCatalogue, false);
  } else if (auto reindexed = loaded->ReindexedLike(*running->catalogue); !reindexed.ok()) {
    Log(LogLevel::kError, "reload refused: alert catalogue",
        {{"path", paths.catalogue}, {"error", std::string(reindexed.status().message())}});
    d.config_metrics.Record(File::kAlertCatalogue, false);
  } else {
    next_catalogue = std::make_shared<const catalog::AlertCatalogue>(*std::move(reindexed));
  }
  const catalog::AlertCatalogue& catalogue =
      next_catalogue != nullptr ? *next_catalogue : *running->catalogue;
  const bool catalogue_ok = next_catalogue != nullptr;

  // 2. The rules against it.
  bool rules_changed = false;
  if (d.evaluator == nullptr) {
    Log(LogLevel::kWarn, "reload: rules are off, no rules to reload", {{"path", paths.rules}});
  } else {
    auto rules = rules::LoadRulesConfig(paths.rules, catalogue);
    absl::Status refused = rules.status();
    const std::vector<uint8_t> old_classes = d.evaluator->config().class_of_slot;
    if (refused.ok()) refused = d.evaluator->Reload(*rules);
    if (!refused.ok()) {
      Log(LogLevel::kError, "reload refused: rules",
          {{"path", paths.rules}, {"error", std::string(refused.message())}});
      d.config_metrics.Record(File::kRules, false);
      if (catalogue_ok) {
        Log(LogLevel::kError, "reload refused: alert catalogue kept with the running rules",
            {{"path", paths.catalogue}});
        d.config_metrics.Record(File::kAlertCatalogue, false);
      }
      return false;
    }
    d.config_metrics.Record(File::kRules, true);
    rules_changed = true;
    Log(LogLevel::kInfo, "rules reloaded", {{"path", paths.rules}});
    if (rules->class_of_slot != old_classes) {
      size_t moved = 0;
      for (size_t i = 0; i < old_classes.size(); ++i)
        moved += old_classes[i] != rules->class_of_slot[i];
      SendClassTable(d, rules->class_of_slot);
      Log(LogLevel::kInfo, "delivery classes changed", {{"codes", std::to_string(moved)}});
    }
  }
  if (catalogue_ok) {
    const std::vector<std::string> changed =
        catalog::AlertCatalogue::ChangedCodes(*running->catalogue, *next_catalogue);
    d.config_metrics.Record(File::kAlertCatalogue, true);
    Log(LogLevel::kInfo, "alert catalogue reloaded",
        {{"path", paths.catalogue},
         {"changed", changed.empty() ? std::string("none") : absl::StrJoin(changed, ",")}});
    d.config_metrics.MarkLoaded(now);  // the rules (if on) were applied above
  }
  auto view = std::make_shared<Daemon::ConfigView>(*running);
  if (catalogue_ok) view->catalogue = next_catalogue;
  if (d.evaluator != nullptr) view->class_of_slot = d.evaluator->config().class_of_slot;
  d.set_config_view(std::move(view));
  return rules_changed;
}

}  // namespace smetsmon::app
