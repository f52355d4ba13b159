// Entry points of the `smetsmon` subcommands. Each parses its own arguments, prints a clear error
// and returns a process exit code (0 ok, 1 runtime failure, 2 usage or configuration error).
#pragma once

namespace smetsmon::app {

int RunReplay(int argc, char** argv);     // smetsmon replay FILE... [options]
int RunGenerate(int argc, char** argv);   // smetsmon generate --out FILE [options]
int RunRun(int argc, char** argv);        // smetsmon run [--config FILE|DIR]
int RunDemo(int argc, char** argv);       // smetsmon demo [options]
int RunMockKafka(int argc, char** argv);  // smetsmon mock-kafka [--brokers N] [--partitions N] ...
int RunCheckConfig(int argc, char** argv);  // smetsmon check-config [DIR|FILE]

}  // namespace smetsmon::app
