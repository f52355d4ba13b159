// Shared test helpers: the project's config directory, the shared contract sample, and a loaded
// ReferenceData for tests that need areas and the catalogue.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "catalog/reference_data.h"

namespace smetsmon::testing {

inline std::string ConfigDir() { return std::string(SMETSMON_SOURCE_DIR) + "/config"; }
inline std::string SamplePath() {
  return std::string(SMETSMON_SHARED_DIR) + "/contract/alert-events.sample.jsonl";
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline catalog::ReferenceData LoadTestReference() {
  catalog::ReferenceOptions options;
  options.config_dir = ConfigDir();
  auto ref = catalog::LoadReferenceConfig(options);
  if (!ref.ok()) ADD_FAILURE() << ref.status();
  return std::move(*ref);
}

// A unique temporary directory for one test, removed by the caller or left in /tmp.
inline std::string TempPath(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string id = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : id) {
    if (c == '/') c = '_';  // parameterised tests have slashes in their names
  }
  return ::testing::TempDir() + "smetsmon_" + id + "_" + name;
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output (and standard error when the command redirects it)
};

// Runs a shell command and collects its standard output and exit code.
inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace smetsmon::testing
