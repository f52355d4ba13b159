#!/usr/bin/env bash
# One command for a sanitizer build and test run: scripts/sanitize.sh [asan|tsan] (default asan).
# asan = AddressSanitizer + UndefinedBehaviorSanitizer; tsan = ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-asan}
case $kind in
  asan) flags="address,undefined" ;;
  tsan) flags="thread" ;;
  *) echo "usage: scripts/sanitize.sh [asan|tsan]" >&2; exit 2 ;;
esac
scripts/bootstrap.sh
scripts/build.sh "build-$kind" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMETSMON_SANITIZE="$flags" \
  -DSMETSMON_BUILD_BENCH=OFF
cd "build-$kind"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# librdkafka is not built with TSan: its threads crash under TSan's runtime before any test code
# runs, so the Kafka-labelled tests run under ASan+UBSan and in the Release suite, not here.
exclude=()
[[ $kind == tsan ]] && exclude=(-LE kafka)
ctest --output-on-failure -j 2 --timeout 1200 "${exclude[@]}"
