#!/usr/bin/env bash
# Installs the Debian 12 packages `make bench-compare` needs beyond scripts/install-deps.sh
# (the peers' servers and client libraries, and gnuplot for the charts), and only those
# that are missing. Only bench-compare calls it; safe to run again.
set -euo pipefail
exec "$(dirname "$0")/install-deps.sh" \
  redis-server libhiredis-dev \
  nats-server libnats-dev \
  libsqlite3-dev \
  gnuplot-nox
