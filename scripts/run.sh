#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs smetsmon on its embedded
# default. Until the Kafka daemon lands (issue 3) the default is a replay of a generated day of
# realistic traffic (floods, a power cut, a comms incident, duplicates, late and malformed lines).
# Extra arguments go to `smetsmon replay`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -- smetsmon
data=${SMETSMON_DATA:-out/demo}
mkdir -p "$data"
if [[ ! -f $data/day.jsonl.gz ]]; then
  echo "generating a day of alerts for 200,000 premises into $data ..." >&2
  build/src/smetsmon generate --out "$data/day.jsonl.gz" --inventory-out "$data/inventory.csv" \
    --truth-out "$data/truth.json" --premises 200000 --hours 24
fi
exec build/src/smetsmon replay "$data/day.jsonl.gz" --inventory "$data/inventory.csv" \
  --rejects "$data/rejects.jsonl" "$@"
