#include "base/yaml_util.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <vector>

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

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), case ignored.
size_t EditDistance(std::string_view a, std::string_view b) {
  const auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

// Milliseconds per unit; 0 for an unknown unit. Units rank from the largest (0) down.
int64_t UnitScale(std::string_view unit, int* rank) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"d", kMsPerDay}, {"h", kMsPerHour}, {"m", kMsPerMinute}, {"s", kMsPerSecond}, {"ms", 1}};
  for (int i = 0; i < 5; ++i) {
    if (kUnits[i].first == unit) {
      *rank = i;
      return kUnits[i].second;
    }
  }
  return 0;
}

}  // namespace

std::string ClosestKey(std::string_view key, absl::Span<const std::string_view> allowed) {
  const size_t limit = key.size() <= 4 ? 1 : 2;
  std::string best;
  size_t best_distance = limit + 1;
  for (std::string_view candidate : allowed) {
    const size_t d = EditDistance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

absl::Status UnknownKeyError(const std::string& file, const YAML::Node& key_node,
                             std::string_view section, absl::Span<const std::string_view> allowed) {
  const int line = key_node.Mark().is_null() ? 0 : key_node.Mark().line + 1;
  const std::string key = key_node.IsScalar() ? key_node.Scalar() : std::string("?");
  std::string what = section.empty() ? std::string("unknown top-level key")
                                     : absl::StrCat("unknown key in '", std::string(section), "'");
  if (const std::string near = ClosestKey(key, allowed); !near.empty()) {
    absl::StrAppend(&what, "; did you mean '", near, "'?");
  }
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": field '", key, "': ", what));
}

absl::Status CheckKeys(const std::string& file, const YAML::Node& map, std::string_view section,
                       absl::Span<const std::string_view> allowed) {
  if (!map.IsMap()) return absl::OkStatus();
  for (const auto& kv : map) {
    const bool known = kv.first.IsScalar() && std::find(allowed.begin(), allowed.end(),
                                                        kv.first.Scalar()) != allowed.end();
    if (!known) return UnknownKeyError(file, kv.first, section, allowed);
  }
  return absl::OkStatus();
}

std::optional<int64_t> ParseDurationMs(const std::string& s) {
  const char* p = s.data();
  const char* const end = s.data() + s.size();
  if (p == end) return std::nullopt;
  int64_t total = 0;
  int last_rank = -1;
  int parts = 0;
  while (p != end) {
    int64_t n = 0;
    auto [after, ec] = std::from_chars(p, end, n);
    if (ec != std::errc() || n < 0) return std::nullopt;
    const char* unit_end = after;
    while (unit_end != end && std::isalpha(static_cast<unsigned char>(*unit_end))) ++unit_end;
    const std::string_view unit(after, static_cast<size_t>(unit_end - after));
    p = unit_end;
    ++parts;
    int rank = 0;
    int64_t scale = 0;
    if (unit.empty()) {
      // Plain milliseconds only stand alone ("90", not "1m30").
      if (parts > 1 || p != end) return std::nullopt;
      scale = 1;
    } else {
      scale = UnitScale(unit, &rank);
      // Unknown units, and units out of order or repeated ("30m1h", "1h1h"), are malformed.
      if (scale == 0 || rank <= last_rank) return std::nullopt;
      last_rank = rank;
    }
    // A duration past int64 milliseconds is malformed, not a wrapped (negative) one (fuzz/).
    if (n > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
    if (n * scale > std::numeric_limits<int64_t>::max() - total) return std::nullopt;
    total += n * scale;
  }
  return total;
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
