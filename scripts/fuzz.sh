#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, build-asan/) and runs each for N seconds over
# its seed corpus (fuzz/corpus/<target>/, read only: new inputs go to a scratch directory).
# Fails when a target crashes, leaks, hits UB or times out; the reproducer is kept in
# build-asan/artifacts/. Usage: scripts/fuzz.sh [seconds per target, default 30] [target...]
# One process per target, one at a time (no -jobs): the machine has two cores and builds run
# beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}; shift || true
all=(decoder inventory areas alert_catalogue rules_config settings webhook_config checkpoint http)
targets=("${@:-${all[@]}}")
scripts/bootstrap.sh --sanitizers
source scripts/asan_tree.sh
CC=clang-14 CXX=clang++-14 scripts/build.sh build-asan "${asan_cmake_args[@]}" \
  -- "${targets[@]/%/_fuzz}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build-asan/artifacts
failed=()
for t in "${targets[@]}"; do
  # New inputs go to $scratch; the seeds are copied to $seeds, gzipped ones (a checkpoint is
  # megabytes of mostly empty windows) unpacked.
  scratch=$(mktemp -d); seeds=$(mktemp -d)
  cp "fuzz/corpus/$t"/* "$seeds"/
  if compgen -G "$seeds/*.gz" >/dev/null; then gunzip "$seeds"/*.gz; fi
  max_len=65536
  [[ $t == checkpoint ]] && max_len=$((4 << 20))
  log=build-asan/artifacts/$t.log
  echo "fuzz: $t for ${seconds}s"
  if build-asan/fuzz/${t}_fuzz "$scratch" "$seeds" -max_total_time="$seconds" \
      -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-asan/artifacts/$t-" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' "$log" | tail -2 | sed "s/^/  /"
  else
    echo "fuzz: $t FAILED (log $log)"; tail -40 "$log"; failed+=("$t")
  fi
  rm -rf "$scratch" "$seeds"
done
if ((${#failed[@]})); then echo "fuzz: crashes in: ${failed[*]}" >&2; exit 1; fi
echo "fuzz: ${#targets[@]} targets clean"
