// Structured log lines in logfmt (`ts=... level=info msg="..." key=value ...`) on stderr: one line
// per event of note (start, stop, rebalance, backpressure, findings, reloads, errors), never one
// per alert. Thread-safe: each line is written with a single call under a mutex.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

namespace smetsmon {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct LogField {
  std::string_view key;
  std::string value;
};

namespace log_internal {

inline void AppendValue(std::string* out, std::string_view v) {
  const bool quote = v.empty() || v.find_first_of(" \"=\t\n\\") != std::string_view::npos;
  if (!quote) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out->push_back('\\');
    if (c == '\n') {
      out->append("\\n");
      continue;
    }
    out->push_back(c);
  }
  out->push_back('"');
}

inline const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace log_internal

// The timestamp is wall-clock time of the log line (for people), not event time.
inline void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {}) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char ts[96];  // room for any int the compiler imagines in each field
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  std::string line = "ts=";
  line.append(ts);
  line.append(" level=");
  line.append(log_internal::LevelName(level));
  line.append(" msg=");
  log_internal::AppendValue(&line, msg);
  for (const LogField& f : fields) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    log_internal::AppendValue(&line, f.value);
  }
  line.push_back('\n');
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace smetsmon
