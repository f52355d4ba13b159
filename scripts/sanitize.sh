#!/usr/bin/env bash
# One command for a sanitizer build and a run of the whole suite, Kafka tests included:
#   scripts/sanitize.sh [asan|tsan] [--all] [ctest args...]      (default asan)
# asan: AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer), clang, in build-asan/.
#       The same tree builds the libFuzzer targets (scripts/fuzz.sh), so CI compiles it once.
# tsan: ThreadSanitizer, GCC, in build-tsan/. librdkafka is Debian's, not instrumented: its C11
#       threads and locks are made visible to TSan by src/sanitizer/tsan_c11_threads.cc, and the
#       reports about its internals are suppressed, with the reasons, in tests/tsan.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-asan}; shift || true
scripts/bootstrap.sh --servers --browser --sanitizers
case $kind in
  asan)
    source scripts/asan_tree.sh
    CC=clang-14 CXX=clang++-14 scripts/build.sh build-asan "${asan_cmake_args[@]}"
    ;;
  tsan)
    scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMETSMON_SANITIZE=thread \
      -DSMETSMON_BUILD_BENCH=OFF
    ;;
  *) echo "usage: scripts/sanitize.sh [asan|tsan] [--all] [ctest args...]" >&2; exit 2 ;;
esac
cd "build-$kind"
# Child processes (the tests that start the real binary) inherit these.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/../tests/tsan.supp"
# Instrumented code is several times slower: the generous timeout is for the catch-up tests.
# Under TSan, CI leaves out the long replays of whole generated days (2 to 10 min each under TSan,
# 5 to 15 times their Release time): their threads are the pipeline's, which
# PipelineDeterminismTest and the Kafka tests drive under TSan anyway, and the metrics lint and
# evaluator-state tests run on one thread, where TSan has nothing to check. Nor the crash-recovery
# tests: five SIGKILLs and a checkpoint every 200 ms, 260 s each alone under TSan and 460 s beside
# another test; they are about the process and run in the Release and ASan phases (the checkpoint
# under threads stays covered by the checkpoint, dashboards and outputs tests). `--all` runs them.
exclude=()
if [[ $kind == tsan && ${1:-} != --all ]]; then
  exclude=(-E 'MetricsLintTest|EvaluatorStateTest|RulesScenarioTest|CheckpointReplayTest|MigrationLoadScenarioTest|NoisyDevicesTest|CrashRecoveryTest')
fi
[[ ${1:-} == --all ]] && shift
ctest --output-on-failure -j 2 --timeout 1500 "${exclude[@]}" "$@"
