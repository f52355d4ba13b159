#!/usr/bin/env bash
# The test command (README quick start, and what CI runs): installs missing Debian packages,
# builds in Release with warnings as errors, and runs every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --servers --browser  # prometheus (promtool), alertmanager, chromium for tests
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
cd build
ctest --output-on-failure -j 2 --timeout 600
