#include "base/yaml_util.h"

#include <charconv>
#include <limits>

#include "smetsmon/types.h"

#include "absl/strings/str_cat.h"

namespace smetsmon::yaml {

absl::Status ConfigError(const std::string& file, const YAML::Node& at, const std::string& field,
                         const std::string& what) {
  const int line = at.Mark().is_null() ? 0 : at.Mark().line + 1;
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": field '", field, "' ", what));
}

absl::Status YamlExceptionError(const std::string& file, const YAML::Exception& e) {
  const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": malformed: ", e.msg));
}

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ": YAML syntax error: ", e.msg));
  }
}

std::optional<int64_t> ParseDurationMs(const std::string& s) {
  int64_t n = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, n);
  if (ec != std::errc() || n < 0) return std::nullopt;
  const std::string_view unit(p, static_cast<size_t>(end - p));
  int64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  if (unit == "s") scale = kMsPerSecond;
  if (unit == "m") scale = kMsPerMinute;
  if (unit == "h") scale = kMsPerHour;
  if (unit == "d") scale = kMsPerDay;
  if (scale == 0) return std::nullopt;
  // A duration past int64 milliseconds is malformed, not a wrapped (negative) one (fuzz/).
  if (n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
  return n * scale;
}

absl::Status ReadDuration(const std::string& file, const YAML::Node& map, const std::string& key,
                          int64_t* out) {
  if (!map[key]) return absl::OkStatus();
  auto text = RequiredScalar<std::string>(file, map, key);
  if (!text.ok()) return text.status();
  const auto ms = ParseDurationMs(*text);
  if (!ms) return ConfigError(file, map[key], key, "is not a duration like 5m: " + *text);
  *out = *ms;
  return absl::OkStatus();
}

}  // namespace smetsmon::yaml
