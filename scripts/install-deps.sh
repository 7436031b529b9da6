#!/usr/bin/env bash
# Installs the Debian 12 packages runnel needs that are missing, and only those; or,
# given package names, those of them that are missing. Uses sudo when not root. Called by
# `make`; safe to run again.
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  libabsl-dev libfmt-dev catch2 libbenchmark-dev libcli11-dev
  python3 python3-kafka            # the independent RecordBatch v2 implementation
  clang libclang-rt-14-dev         # libFuzzer for the fuzz targets
)

[ $# -gt 0 ] && packages=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing missing Debian packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
