#!/usr/bin/env bash
# Installs the Debian 12 packages smetsmon needs, calling apt only for what is missing.
# Usage: scripts/bootstrap.sh [--servers] [--browser] [--sanitizers]
#   --servers: prometheus and alertmanager for the integration tests; --browser: chromium, which
#   the status page's browser test drives headless; --sanitizers: see below.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang-format
      libboost1.81-dev libboost-system1.81-dev librdkafka-dev prometheus-cpp-dev libabsl-dev
      libsimdjson-dev libyaml-cpp-dev libssl-dev zlib1g-dev tzdata
      googletest libgtest-dev libgmock-dev libbenchmark-dev)
for opt in "$@"; do
  case $opt in
    --servers) pkgs+=(prometheus prometheus-alertmanager) ;;
    --browser) pkgs+=(chromium) ;;
    # clang with its sanitizer and libFuzzer runtimes (the ASan+UBSan tree and fuzz/); GCC's TSan.
    --sanitizers) pkgs+=(clang-14 libclang-rt-14-dev libtsan2 libasan8 libubsan1) ;;
    *) echo "bootstrap: unknown option $opt" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
