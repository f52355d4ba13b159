#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs smetsmon on its embedded
# default: librdkafka's mock Kafka cluster in-process, a load generator (the last 24 h of a
# generated fleet with floods, a power cut, a comms incident, duplicates, late and malformed
# messages, then live traffic), and the daemon serving http://127.0.0.1:9477/{healthz,readyz,metrics}.
# Ctrl-C stops it gracefully. Extra arguments go to `smetsmon demo` (e.g. --premises 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -- smetsmon
exec build/src/smetsmon demo "$@"
