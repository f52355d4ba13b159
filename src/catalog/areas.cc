#include "catalog/areas.h"

#include <algorithm>

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
const std::string kUnknownLabel = "unknown";

std::string Slug(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}
}  // namespace

absl::StatusOr<AreaTable> AreaTable::Load(const std::string& path) {
  return yaml::GuardYaml(path, [&]() -> absl::StatusOr<AreaTable> {
    SMETSMON_ASSIGN_OR_RETURN(YAML::Node root, LoadYamlFile(path));
    SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(path, root, "", {"regions", "areas"}));
    AreaTable t;
    t.by_distributor_.fill(kUnknownArea);
    t.by_gsp_.fill(kUnknownArea);
    const YAML::Node regions = root["regions"];
    if (!regions || !regions.IsSequence() || regions.size() == 0) {
      return ConfigError(path, root, "regions", "must be a non-empty list of region names");
    }
    for (const auto& r : regions) t.regions_.push_back(r.as<std::string>());
    const YAML::Node areas = root["areas"];
    if (!areas || !areas.IsSequence() || areas.size() == 0) {
      return ConfigError(path, root, "areas", "must be a non-empty list");
    }
    if (areas.size() >= kUnknownArea.value) {
      return ConfigError(path, areas, "areas", "has too many entries (at most 254)");
    }
    for (const auto& node : areas) {
      Area a;
      SMETSMON_RETURN_IF_ERROR(yaml::CheckKeys(
          path, node, "areas",
          {"distributor_id", "gsp_group", "name", "dno_group", "region", "meters"}));
      SMETSMON_ASSIGN_OR_RETURN(int64_t dist,
                                RequiredScalar<int64_t>(path, node, "distributor_id"));
      if (dist < 10 || dist > 99) {
        return ConfigError(path, node["distributor_id"], "distributor_id", "must be 10..99");
      }
      a.distributor_id = static_cast<int>(dist);
      SMETSMON_ASSIGN_OR_RETURN(std::string gsp,
                                RequiredScalar<std::string>(path, node, "gsp_group"));
      const auto g = ParseGspGroup(gsp);
      if (!g) return ConfigError(path, node["gsp_group"], "gsp_group", "must be _A.._P");
      a.gsp_group = *g;
      SMETSMON_ASSIGN_OR_RETURN(a.name, RequiredScalar<std::string>(path, node, "name"));
      SMETSMON_ASSIGN_OR_RETURN(a.dno_group, RequiredScalar<std::string>(path, node, "dno_group"));
      SMETSMON_ASSIGN_OR_RETURN(std::string region,
                                RequiredScalar<std::string>(path, node, "region"));
      const auto it = std::find(t.regions_.begin(), t.regions_.end(), region);
      if (it == t.regions_.end()) {
        return ConfigError(path, node["region"], "region", "names unknown region '" + region + "'");
      }
      a.region = RegionId{static_cast<uint8_t>(it - t.regions_.begin())};
      SMETSMON_ASSIGN_OR_RETURN(a.meters, OptionalScalar<int64_t>(path, node, "meters", 0));
      const AreaId id{static_cast<uint8_t>(t.areas_.size())};
      if (t.by_distributor_[static_cast<size_t>(a.distributor_id)] != kUnknownArea) {
        return ConfigError(path, node["distributor_id"], "distributor_id", "is listed twice");
      }
      if (t.by_gsp_[static_cast<size_t>(a.gsp_group - 'A')] != kUnknownArea) {
        return ConfigError(path, node["gsp_group"], "gsp_group", "is listed twice");
      }
      t.by_distributor_[static_cast<size_t>(a.distributor_id)] = id;
      t.by_gsp_[static_cast<size_t>(a.gsp_group - 'A')] = id;
      t.labels_.push_back(Slug(a.name));
      t.areas_.push_back(std::move(a));
    }
    return t;
  });
}

const std::string& AreaTable::Label(AreaId a) const {
  return a == kUnknownArea ? kUnknownLabel : labels_[a.value];
}

const std::string& AreaTable::RegionLabel(RegionId r) const {
  return r == kUnknownRegion ? kUnknownLabel : regions_[r.value];
}

}  // namespace smetsmon::catalog
