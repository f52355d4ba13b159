#!/usr/bin/env bash
# clang-format every C++ file in the repo (the .clang-format at the top); --check only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cc')
if [[ ${1:-} == --check ]]; then
  clang-format --dry-run --Werror $files
else
  clang-format -i $files
fi
