#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "metrics/family.h"
#include "smetsmon/version.h"

namespace smetsmon::metrics {
namespace {

using prometheus::MetricFamily;
using prometheus::MetricType;

struct ProcStat {
  bool ok = false;
  double cpu_seconds = 0;
  double start_seconds_after_boot = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

// /proc/self/stat: the fields after the command name (which may hold spaces, so parse from the
// last ')'). utime and stime are fields 14 and 15, starttime 22, vsize 23, rss (pages) 24.
ProcStat ReadProcStat() {
  ProcStat out;
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return out;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(line.substr(close + 2));
  std::string f[23];  // fields 3..25
  for (std::string& v : f) {
    if (!(fields >> v)) return out;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
  out.start_seconds_after_boot = std::stod(f[22 - 3]) / ticks;
  out.virtual_bytes = std::stod(f[23 - 3]);
  out.resident_bytes = std::stod(f[24 - 3]) * page;
  out.ok = true;
  return out;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

// A family of one unlabelled sample.
MetricFamily Single(const char* name, const char* help, double v, MetricType type) {
  MetricFamily f = Family(name, help, type);
  Add(f, v);
  return f;
}

}  // namespace

std::vector<MetricFamily> ProcessMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const ProcStat s = ReadProcStat();
  if (s.ok) {
    out.push_back(Single("process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.", s.cpu_seconds,
                         MetricType::Counter));
    out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                         s.resident_bytes, MetricType::Gauge));
    out.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         s.virtual_bytes, MetricType::Gauge));
    out.push_back(Single("process_start_time_seconds",
                         "Start time of the process since unix epoch in seconds.",
                         BootTimeSeconds() + s.start_seconds_after_boot, MetricType::Gauge));
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    out.push_back(
        Single("process_open_fds", "Number of open file descriptors.", fds, MetricType::Gauge));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(Single("process_max_fds", "Maximum number of open file descriptors.",
                         static_cast<double>(limit.rlim_cur), MetricType::Gauge));
  }
  MetricFamily info =
      Family("smetsmon_build_info", "Always 1; the version and source revision in labels.",
             MetricType::Gauge);
  Add(info, 1, {{"version", kVersion}, {"revision", kRevision}});
  out.push_back(std::move(info));
  return out;
}

}  // namespace smetsmon::metrics
