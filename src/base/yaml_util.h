// Small helpers that turn yaml-cpp nodes into values or a Status naming file, line and field.
// Configuration lane only (startup and reload): may allocate and catch yaml-cpp exceptions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

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

// The allowed key closest to `key` (edit distance with transpositions, case ignored): at most 1
// edit for a key of up to 4 characters, 2 for a longer one; "" when none is that close. Ties go
// to the first in `allowed`.
std::string ClosestKey(std::string_view key, absl::Span<const std::string_view> allowed);

// Every key of mapping `map` must be one of `allowed`; the first that is not is an error naming
// the file, the key's line, the key, the mapping and the closest allowed key when one is close:
//   "config/smetsmon.yaml:12: field 'dedup_horizn': unknown key in 'engine'; did you mean
//   'dedup_horizon'?"
// `section` names the mapping as its errors do ("engine", "webhooks.receivers[0]"); "" is the
// file's top level ("unknown top-level key"). A node that is not a map passes (callers check the
// kind themselves).
absl::Status CheckKeys(const std::string& file, const YAML::Node& map, std::string_view section,
                       absl::Span<const std::string_view> allowed);

// The error CheckKeys returns for `key` (at `key_node`), for a caller that checks keys itself
// (the kafka section, whose other keys go to librdkafka).
absl::Status UnknownKeyError(const std::string& file, const YAML::Node& key_node,
                             std::string_view section, absl::Span<const std::string_view> allowed);

// A duration -> milliseconds; nullopt if malformed or past int64 milliseconds. Plain
// milliseconds ("250"), one number with a unit ("250ms", "90s", "5m", "1h", "2d"), or several
// with units from the largest down, each unit once ("1h30m", "2h15m30s", "1d12h", "1m30s500ms").
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
