#!/usr/bin/env bash
# Configures and builds one build tree, serialised by a lock so that two builds never share the
# machine's two cores. Usage: scripts/build.sh [BUILD_DIR] [extra cmake -D args...] [-- targets]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
cmake_args=(); targets=()
while (($#)); do
  if [[ $1 == -- ]]; then shift; targets=("$@"); break; fi
  cmake_args+=("$1"); shift
done
exec 9>/tmp/smetsmon-build.lock
flock 9
if [[ ! -f $dir/build.ninja ]]; then cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null; fi
if ((${#targets[@]})); then
  cmake --build "$dir" -j 2 --target "${targets[@]}"
else
  cmake --build "$dir" -j 2
fi
