// SIGHUP: reloads config/alert_catalogue.yaml and config/rules.yaml without a restart.
//
// Each file is validated in full before anything changes; a file that fails keeps its running
// version (logged with the reason, counted in smetsmon_config_reloads_total{outcome="refused"}).
//  - The catalogue: names, recipients, set/clear pairs and priorities apply live; a change of
//    the window layout (codes added or removed, a code in another category, another category
//    list) is refused as needing a restart, and the rules then load against the running one.
//  - The rules resolve against the (reloaded) catalogue; Evaluator::Reload says what it takes.
//    A rules file that fails refuses the catalogue too: a code's delivery class comes from both.
//  - A code whose delivery class changed (its priority, the high-priority list) counts in its
//    new class from each worker's next batch: the table goes to each worker's thread.
//
// Thread-safety: the rules thread (Pipeline::RunOnRules: the evaluator's own thread), or the io
// thread when rules are off; the API reads the result through Daemon::config_view().
#pragma once

#include <string>

#include "app/daemon.h"

namespace smetsmon::app {

struct ConfigPaths {
  std::string catalogue;  // alert_catalogue.yaml
  std::string rules;      // rules.yaml (absent: rules are off)
};

// True when the rules changed (the caller evaluates at once with them).
bool ReloadConfig(Daemon& d, const ConfigPaths& paths, ProcessingTime now);

}  // namespace smetsmon::app
