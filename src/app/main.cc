// smetsmon: watches the GB smart-meter alert stream. See README.md.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "app/commands.h"
#include "smetsmon/version.h"

namespace {
void Usage() {
  std::fputs(
      "usage: smetsmon <command> [options]\n"
      "  demo [--premises N] [--rate N]   mock Kafka + load generator + daemon, until Ctrl-C\n"
      "  run [--config FILE|DIR]          the daemon: Kafka in, HTTP (/healthz /readyz /metrics) "
      "out\n"
      "                 (default: ./config if present, else /etc/smetsmon)\n"
      "  check-config [DIR|FILE]          validate the configuration as run would, without\n"
      "                 connecting or binding (exit 0: OK, 2: errors, each as file:line)\n"
      "  replay FILE... [--config DIR] [--inventory CSV] [--rejects FILE] [--report json]\n"
      "                 replay JSON Lines files (plain or .gz) on event time and print a report\n"
      "  generate --out FILE [--inventory-out CSV] [--premises N] [--hours H] ...\n"
      "                 write a realistic replay file (see 'smetsmon generate --help')\n"
      "  mock-kafka [--brokers N] [--partitions N] [--topic T]\n"
      "                 a local in-memory Kafka; prints its bootstrap address, until Ctrl-C\n"
      "  --version        the version and source revision\n",
      stderr);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "replay") return smetsmon::app::RunReplay(argc - 1, argv + 1);
  if (cmd == "generate") return smetsmon::app::RunGenerate(argc - 1, argv + 1);
  if (cmd == "run") return smetsmon::app::RunRun(argc - 1, argv + 1);
  if (cmd == "check-config") return smetsmon::app::RunCheckConfig(argc - 1, argv + 1);
  if (cmd == "demo") return smetsmon::app::RunDemo(argc - 1, argv + 1);
  if (cmd == "mock-kafka") return smetsmon::app::RunMockKafka(argc - 1, argv + 1);
  if (cmd == "--version" || cmd == "version") {
    std::printf("smetsmon %s (revision %s)\n", smetsmon::kVersion, smetsmon::kRevision);
    return 0;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    Usage();
    return 0;
  }
  std::fprintf(stderr, "smetsmon: unknown command '%s'\n", argv[1]);
  Usage();
  return 2;
}
