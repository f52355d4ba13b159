#!/usr/bin/env bash
# Checks the Prometheus rules and the Alertmanager routing under deploy/ with the real tools
# (packages prometheus and prometheus-alertmanager: scripts/bootstrap.sh --servers; found on PATH
# like the other `servers` tests): promtool check rules + the rules' unit tests, amtool
# check-config, routing assertions (amtool config routes test --verify.receivers), and the
# inhibition of a rule alert by the sink's alert of the same power cut on a real Alertmanager.
# Usage: tests/deploy/check_deploy.sh [SOURCE_DIR]. Exits non-zero on the first failure.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
rules_dir=$src/deploy/prometheus
am_config=$src/deploy/alertmanager/alertmanager.yml

for tool in promtool amtool prometheus-alertmanager curl python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (scripts/bootstrap.sh --servers)"; exit 1; }
done

echo "== promtool check rules"
promtool check rules "$rules_dir/smetsmon.rules.yml"
echo "== promtool test rules"
(cd "$rules_dir" && promtool test rules smetsmon.rules.test.yml)
echo "== amtool check-config"
amtool check-config "$am_config"

failures=0
# route EXPECTED_RECEIVERS label=value...: the receivers (in order) an alert with these labels
# reaches.
route() {
  local expected=$1; shift
  if amtool config routes test --config.file="$am_config" --verify.receivers="$expected" "$@" \
      >/dev/null 2>&1; then
    echo "ok   route $* -> $expected"
  else
    echo "FAIL route $* -> expected $expected, got: $(amtool config routes test \
      --config.file="$am_config" "$@" 2>/dev/null)"
    failures=$((failures + 1))
  fi
}
echo "== amtool config routes test"
# The sink's findings (alertname smetsmon_<kind>, area and dno_group labels): the DNO group of the
# area, and DCC operations' findings channel.
route dno-ukpn,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage \
  severity=critical area=London dno_group="UK Power Networks" finding_id=power_outage:area=London:1
route dno-ukpn,dcc-operations-findings alertname=smetsmon_storm kind=storm area=Eastern
route dno-ukpn,dcc-operations-findings alertname=smetsmon_dno_flood kind=dno_flood area="South Eastern"
route dno-nged,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="East Midlands"
route dno-nged,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="West Midlands"
route dno-nged,dcc-operations-findings alertname=smetsmon_storm kind=storm area="South Wales"
route dno-nged,dcc-operations-findings alertname=smetsmon_storm kind=storm area="South Western"
route dno-spen,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage \
  area="Merseyside & North Wales"
route dno-spen,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="South Scotland"
route dno-npg,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="North East"
route dno-npg,dcc-operations-findings alertname=smetsmon_storm kind=storm area=Yorkshire
route dno-enwl,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="North West"
route dno-ssen,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area="North Scotland"
route dno-ssen,dcc-operations-findings alertname=smetsmon_storm kind=storm area=Southern
# The rule alerts of the same findings route the same way.
route dno-ukpn,dcc-operations-findings alertname=SmetsmonPowerOutage kind=power_outage area=London severity=critical
route dno-npg,dcc-operations-findings alertname=SmetsmonAlertStorm kind=storm area=Yorkshire severity=warning
# Findings that are no DNO's: national comms incidents, delivery, noisy devices.
route dcc-operations-findings alertname=smetsmon_comms_incident kind=comms_incident region=north severity=warning
route dcc-operations-findings alertname=SmetsmonCommsIncident kind=comms_incident severity=warning
route dcc-operations-findings alertname=smetsmon_delivery_below_minimum kind=delivery_below_minimum region=north
route dcc-operations-findings alertname=smetsmon_noisy_devices kind=noisy_devices area=London
# An area no DNO route names (areas.yaml changed): DCC operations, to fix the routes.
route dcc-operations,dcc-operations-findings alertname=smetsmon_power_outage kind=power_outage area=Atlantis
# Daemon health, Go/No-Go: DCC operations, critical paged.
route dcc-operations-pager alertname=SmetsmonDown job=smetsmon instance=a:9477 severity=critical
route dcc-operations-pager alertname=SmetsmonNotConsuming instance=a:9477 severity=critical
route dcc-operations-pager alertname=SmetsmonGoNoGoRed criterion=overall severity=critical
route dcc-operations alertname=SmetsmonConsumerLagging instance=a:9477 severity=warning
route dcc-operations alertname=SmetsmonGoNoGoDecisionMissing instance=a:9477 severity=warning
route dcc-operations alertname=SmetsmonDeliveryBelowMinimum region=north priority=critical severity=warning

echo "== inhibition on a running Alertmanager"
tmp=$(mktemp -d)
am_pid=
cleanup() {
  if [[ -n $am_pid ]]; then kill "$am_pid" 2>/dev/null || true; wait "$am_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
prometheus-alertmanager --config.file="$am_config" --storage.path="$tmp/data" \
  --web.listen-address=127.0.0.1:"$port" --cluster.listen-address= >"$tmp/am.log" 2>&1 &
am_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$url/-/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$url/-/ready" >/dev/null || { cat "$tmp/am.log"; echo "FAIL: alertmanager not ready"; exit 1; }
add() { amtool --alertmanager.url="$url" alert add "$@"; }
# The same power cut in London from both paths; a rule alert in Yorkshire alone.
add alertname=smetsmon_power_outage kind=power_outage area=London severity=critical \
  dno_group="UK Power Networks" finding_id=power_outage:area=London:1
add alertname=SmetsmonPowerOutage kind=power_outage area=London severity=critical
add alertname=SmetsmonPowerOutage kind=power_outage area=Yorkshire severity=critical
add alertname=smetsmon_comms_incident kind=comms_incident region=north severity=warning
add alertname=SmetsmonCommsIncident kind=comms_incident severity=warning
states=$(curl -fs "$url/api/v2/alerts" | python3 -c '
import json, sys
for a in sorted(json.load(sys.stdin), key=lambda a: (a["labels"]["alertname"], a["labels"].get("area", ""))):
    print(a["labels"]["alertname"], a["labels"].get("area", "-").replace(" ", "_"), a["status"]["state"])')
echo "$states"
expected="SmetsmonCommsIncident - suppressed
SmetsmonPowerOutage London suppressed
SmetsmonPowerOutage Yorkshire active
smetsmon_comms_incident - active
smetsmon_power_outage London active"
if [[ $states != "$expected" ]]; then
  echo "FAIL inhibition: expected"; echo "$expected"
  failures=$((failures + 1))
else
  echo "ok   inhibition: one page per power cut"
fi

if ((failures)); then echo "$failures check(s) failed"; exit 1; fi
echo "all deploy checks passed"
