#include "catalog/yaml_util.h"

#include "absl/strings/str_cat.h"

namespace smetsmon::catalog {

absl::Status ConfigError(const std::string& file, const YAML::Node& at, const std::string& field,
                         const std::string& what) {
  const int line = at.Mark().is_null() ? 0 : at.Mark().line + 1;
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": field '", field, "' ", what));
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

}  // namespace smetsmon::catalog
