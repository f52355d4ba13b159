// smetsmon-loadgen: produces realistic alert traffic to any Kafka, keyed by device id.
// Prints what it sent as one JSON line on stdout (the generator's truth plus delivery counts), so
// a test or an operator can reconcile it exactly with the monitor's counters.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/settings.h"
#include "base/fields.h"
#include "gen/kafka_loadgen.h"

namespace {
smetsmon::gen::KafkaLoadgen* g_loadgen = nullptr;
extern "C" void OnSignal(int) {
  if (g_loadgen != nullptr) g_loadgen->Stop();
}

constexpr char kUsage[] =
    "usage: smetsmon-loadgen --bootstrap HOST:PORT[,...] [--topic T] [--rate MSG_PER_S]\n"
    "                        [--premises N] [--hours H] [--start RFC3339] [--seed N]\n"
    "                        [--no-scenarios] [--no-faults] [--config DIR]\n"
    "Sends the generated traffic (as fast as possible without --rate) and prints a JSON report.\n";
}  // namespace

int main(int argc, char** argv) {
  using namespace smetsmon;
  gen::GeneratorConfig traffic;
  gen::LoadgenConfig config;
  std::string config_dir = "config";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--bootstrap" && has_value) {
      config.bootstrap_servers = argv[++i];
    } else if (a == "--topic" && has_value) {
      config.topic = argv[++i];
    } else if (a == "--rate" && has_value) {
      config.rate_per_s = std::atof(argv[++i]);
    } else if (a == "--premises" && has_value) {
      traffic.premises = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--hours" && has_value) {
      traffic.duration_ms = static_cast<int64_t>(std::atof(argv[++i]) * kMsPerHour);
    } else if (a == "--start" && has_value) {
      const auto ms = ParseRfc3339Utc(argv[++i]);
      if (!ms) {
        std::fprintf(stderr, "smetsmon-loadgen: --start is not RFC 3339 UTC\n");
        return 2;
      }
      traffic.start_ms = *ms;
    } else if (a == "--seed" && has_value) {
      traffic.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--no-scenarios") {
      traffic.dmc_flood.enabled = traffic.pf_flood.enabled = false;
      traffic.power_cut.enabled = traffic.comms_incident.enabled = false;
    } else if (a == "--no-faults") {
      traffic.duplicate_share = traffic.late_share = traffic.malformed_share = 0;
    } else if (a == "--config" && has_value) {
      config_dir = argv[++i];
    } else {
      std::fputs(kUsage, a == "--help" || a == "-h" ? stdout : stderr);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (config.bootstrap_servers.empty()) {
    std::fprintf(stderr, "smetsmon-loadgen: --bootstrap is required\n%s", kUsage);
    return 2;
  }
  auto settings = app::LoadSettings(config_dir);
  if (!settings.ok()) {
    std::fprintf(stderr, "smetsmon-loadgen: %s\n", settings.status().ToString().c_str());
    return 2;
  }
  auto ref = catalog::LoadReferenceConfig(settings->reference);
  if (!ref.ok()) {
    std::fprintf(stderr, "smetsmon-loadgen: %s\n", ref.status().ToString().c_str());
    return 2;
  }
  SystemClock clock;
  gen::KafkaLoadgen loadgen(*ref->areas, *ref->catalogue, traffic, config, clock);
  g_loadgen = &loadgen;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  auto report = loadgen.Run();
  g_loadgen = nullptr;
  if (!report.ok()) {
    std::fprintf(stderr, "smetsmon-loadgen: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", report->ToJson().c_str());
  return report->failed == 0 ? 0 : 1;
}
