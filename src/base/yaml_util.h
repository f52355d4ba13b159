// Small helpers that turn yaml-cpp nodes into values or a Status naming file, line and field.
// Configuration lane only (startup and reload): may allocate and catch yaml-cpp exceptions.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace smetsmon::yaml {

// "config/areas.yaml:12: field 'region': unknown region 'Norht'".
absl::Status ConfigError(const std::string& file, const YAML::Node& at, const std::string& field,
                         const std::string& what);

// Loads a YAML file; a missing file or syntax error becomes InvalidArgument naming the line.
absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path);

// InvalidArgument naming the file and line of a yaml-cpp exception.
absl::Status YamlExceptionError(const std::string& file, const YAML::Exception& e);

// Runs a loader's body and turns a yaml-cpp exception escaping it (operator[] on a scalar, a
// conversion of the wrong node kind, ...) into a Status: a hostile or mistyped file must not end
// the process (found by fuzz/config_fuzz.cc). Every config loader's public entry goes through it.
template <typename F>
auto GuardYaml(const std::string& file, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const YAML::Exception& e) {
    return YamlExceptionError(file, e);
  }
}

// Required scalar field of a map node, converted to T (std::string, int64_t, double, bool).
template <typename T>
absl::StatusOr<T> RequiredScalar(const std::string& file, const YAML::Node& map,
                                 const std::string& key) {
  const YAML::Node v = map[key];
  if (!v) return ConfigError(file, map, key, "is required");
  if (!v.IsScalar()) return ConfigError(file, v, key, "must be a scalar");
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    return ConfigError(file, v, key, "has the wrong type ('" + v.Scalar() + "')");
  }
}

// "90s", "5m", "1h", "2d", "250ms" or plain milliseconds -> milliseconds; nullopt if malformed.
std::optional<int64_t> ParseDurationMs(const std::string& s);

// Optional duration field: leaves *out unchanged when absent; a malformed value names the line.
absl::Status ReadDuration(const std::string& file, const YAML::Node& map, const std::string& key,
                          int64_t* out);

template <typename T>
absl::StatusOr<T> OptionalScalar(const std::string& file, const YAML::Node& map,
                                 const std::string& key, T fallback) {
  if (!map[key]) return fallback;
  return RequiredScalar<T>(file, map, key);
}

}  // namespace smetsmon::yaml
