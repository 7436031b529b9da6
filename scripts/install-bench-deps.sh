#!/usr/bin/env bash
# Installs the Debian 12 packages `make bench-compare` needs beyond scripts/install-deps.sh
# (the peers' servers and client libraries, and gnuplot for the charts), and only those
# that are missing. Uses sudo when not root. Only bench-compare calls it; safe to run again.
set -euo pipefail

packages=(
  redis-server libhiredis-dev      # Redis Streams
  nats-server libnats-dev          # NATS JetStream
  libsqlite3-dev                   # SQLite
  gnuplot-nox                      # the report's charts
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing missing Debian packages for bench-compare: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
