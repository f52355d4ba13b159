#include "catalog/alert_catalogue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "base/fields.h"
#include "base/yaml_util.h"
#include "smetsmon/status.h"

namespace smetsmon::catalog {

// The config loaders' YAML helpers (base/yaml_util.h).
using yaml::ConfigError;
using yaml::LoadYamlFile;
using yaml::OptionalScalar;
using yaml::ReadDuration;
using yaml::RequiredScalar;
namespace {

absl::StatusOr<std::vector<std::string>> NameList(const std::string& path, const YAML::Node& root,
                                                  const std::string& key) {
  const YAML::Node list = root[key];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return ConfigError(path, root, key, "must be a non-empty list of names");
  }
  std::vector<std::string> out;
  for (const auto& n : list) {
    const std::string name = n.as<std::string>();
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return ConfigError(path, n, key, "lists '" + name + "' twice");
    }
    out.push_back(name);
  }
  return out;
}

}  // namespace

absl::StatusOr<AlertCatalogue> AlertCatalogue::Load(const std::string& path) {
  return yaml::GuardYaml(path, [&]() -> absl::StatusOr<AlertCatalogue> {
    SMETSMON_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(
        path, root, "", {"categories", "priorities", "default_priority", "alerts"}));
    AlertCatalogue c;
    SMETSMON_ASSIGN_OR_RETURN(c.categories_, NameList(path, root, "categories"));
    SMETSMON_ASSIGN_OR_RETURN(c.priorities_, NameList(path, root, "priorities"));
    if (c.categories_.size() > 250) return ConfigError(path, root, "categories", "has over 250");
    if (c.priorities_.size() > 16) return ConfigError(path, root, "priorities", "has over 16");
    auto other = std::find(c.categories_.begin(), c.categories_.end(), "other");
    if (other == c.categories_.end()) {
      c.categories_.push_back("other");
      other = c.categories_.end() - 1;
    }
    c.other_category_ = static_cast<CategoryIndex>(other - c.categories_.begin());
    SMETSMON_ASSIGN_OR_RETURN(
        std::string default_priority,
        OptionalScalar<std::string>(path, root, "default_priority", c.priorities_.back()));
    const auto dp = std::find(c.priorities_.begin(), c.priorities_.end(), default_priority);
    if (dp == c.priorities_.end()) {
      return ConfigError(path, root["default_priority"], "default_priority",
                         "names unknown priority '" + default_priority + "'");
    }
    c.default_priority_ = static_cast<PriorityIndex>(dp - c.priorities_.begin());

    const YAML::Node alerts = root["alerts"];
    if (!alerts || !alerts.IsSequence()) return ConfigError(path, root, "alerts", "must be a list");
    if (alerts.size() >= 0xFFFF) return ConfigError(path, alerts, "alerts", "has too many entries");
    c.device_slots_ = std::make_shared<std::vector<CodeSlot>>(65536, CodeSlot{0});
    const auto other_slot = static_cast<CodeSlot>(alerts.size());
    c.other_slot_ = other_slot;
    std::fill(c.device_slots_->begin(), c.device_slots_->end(), other_slot);
    std::vector<std::pair<std::string, const YAML::Node>> clears;  // resolved after all codes
    for (const auto& node : alerts) {
      AlertInfo info;
      SMETSMON_RETURN_IF_ERROR(
          yaml::CheckKeys(path, node, "alerts",
                          {"code", "name", "category", "recipient", "priority", "clear_code"}));
      SMETSMON_ASSIGN_OR_RETURN(std::string code_text,
                                RequiredScalar<std::string>(path, node, "code"));
      const auto code = ParseAlertCode(code_text);
      if (!code)
        return ConfigError(path, node["code"], "code", "is not an alert code: " + code_text);
      info.code = *code;
      if (c.SlotOf(info.code) != other_slot) {
        return ConfigError(path, node["code"], "code", "is listed twice: " + code_text);
      }
      SMETSMON_ASSIGN_OR_RETURN(info.name, RequiredScalar<std::string>(path, node, "name"));
      SMETSMON_ASSIGN_OR_RETURN(std::string category,
                                RequiredScalar<std::string>(path, node, "category"));
      const int cat = c.CategoryIndexOf(category);
      if (cat < 0) {
        return ConfigError(path, node["category"], "category",
                           "names a category not in 'categories': " + category);
      }
      info.category = static_cast<CategoryIndex>(cat);
      SMETSMON_ASSIGN_OR_RETURN(info.recipient,
                                OptionalScalar<std::string>(path, node, "recipient", ""));
      SMETSMON_ASSIGN_OR_RETURN(
          std::string priority,
          OptionalScalar<std::string>(path, node, "priority", default_priority));
      const auto p = std::find(c.priorities_.begin(), c.priorities_.end(), priority);
      if (p == c.priorities_.end()) {
        return ConfigError(path, node["priority"], "priority",
                           "names unknown priority '" + priority + "'");
      }
      info.priority = static_cast<PriorityIndex>(p - c.priorities_.begin());
      if (node["clear_code"]) clears.emplace_back(code_text, node);
      const auto slot = static_cast<CodeSlot>(c.alerts_.size());
      if (info.code.is_dcc()) {
        c.dcc_slots_[info.code.value] = slot;
      } else {
        (*c.device_slots_)[info.code.value] = slot;
      }
      c.alerts_.push_back(std::move(info));
    }
    for (const auto& [code_text, node] : clears) {
      SMETSMON_ASSIGN_OR_RETURN(std::string clear_text,
                                RequiredScalar<std::string>(path, node, "clear_code"));
      const auto clear = ParseAlertCode(clear_text);
      if (!clear)
        return ConfigError(path, node["clear_code"], "clear_code", "is not an alert code");
      const CodeSlot set_slot = c.SlotOf(*ParseAlertCode(code_text));
      c.alerts_[set_slot].clears = *clear;
      const CodeSlot clear_slot = c.SlotOf(*clear);
      if (clear_slot == other_slot) {
        return ConfigError(path, node["clear_code"], "clear_code",
                           "names a code with no entry of its own: " + clear_text);
      }
      c.alerts_[clear_slot].is_clear = true;
    }
    return c;
  });
}

absl::StatusOr<AlertCatalogue> AlertCatalogue::ReindexedLike(const AlertCatalogue& running) const {
  std::vector<std::string> changes;
  const bool same_categories = categories_ == running.categories_;
  if (!same_categories) {
    changes.push_back(absl::StrCat("the category list (", absl::StrJoin(running.categories_, ","),
                                   " -> ", absl::StrJoin(categories_, ","), ")"));
  }
  std::vector<std::string> added, removed;
  for (const AlertInfo& a : running.alerts_) {
    const CodeSlot slot = SlotOf(a.code);
    const std::string code = FormatAlertCode(a.code);
    if (slot == other_slot_) {
      removed.push_back(code);
    } else if (same_categories && alerts_[slot].category != a.category) {
      changes.push_back(absl::StrCat("moving ", code, " from ", running.categories_[a.category],
                                     " to ", categories_[alerts_[slot].category]));
    }
  }
  for (const AlertInfo& a : alerts_) {
    if (running.SlotOf(a.code) == running.other_slot_) {
      added.push_back(FormatAlertCode(a.code));
    }
  }
  if (!added.empty()) changes.push_back("adding " + absl::StrJoin(added, ","));
  if (!removed.empty()) changes.push_back("removing " + absl::StrJoin(removed, ","));
  if (!changes.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("changing the window layout needs a restart: ", absl::StrJoin(changes, "; ")));
  }
  // Same codes in the same categories: take the running slot maps and put each entry in its
  // running slot.
  AlertCatalogue out = *this;
  out.device_slots_ = running.device_slots_;
  out.dcc_slots_ = running.dcc_slots_;
  out.other_slot_ = running.other_slot_;
  for (const AlertInfo& a : alerts_) out.alerts_[running.SlotOf(a.code)] = a;
  return out;
}

std::vector<std::string> AlertCatalogue::ChangedCodes(const AlertCatalogue& a,
                                                      const AlertCatalogue& b) {
  std::vector<std::string> out;
  const auto priority_name = [](const AlertCatalogue& c, PriorityIndex p) {
    return p < c.priorities_.size() ? c.priorities_[p] : std::string();
  };
  for (size_t slot = 0; slot < a.alerts_.size() && slot < b.alerts_.size(); ++slot) {
    const AlertInfo& x = a.alerts_[slot];
    const AlertInfo& y = b.alerts_[slot];
    if (x.code != y.code || x.name != y.name || x.category != y.category ||
        x.recipient != y.recipient || x.clears != y.clears || x.is_clear != y.is_clear ||
        priority_name(a, x.priority) != priority_name(b, y.priority)) {
      out.push_back(FormatAlertCode(y.code));
    }
  }
  return out;
}

int AlertCatalogue::CategoryIndexOf(const std::string& name) const {
  const auto it = std::find(categories_.begin(), categories_.end(), name);
  return it == categories_.end() ? -1 : static_cast<int>(it - categories_.begin());
}

std::string AlertCatalogue::SlotLabel(CodeSlot slot) const {
  return slot < alerts_.size() ? FormatAlertCode(alerts_[slot].code) : "other";
}

}  // namespace smetsmon::catalog
