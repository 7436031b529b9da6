#!/usr/bin/env bash
# Runs every libFuzzer binary (*_fuzzer) under BUILD_DIR/test/fuzz for SECONDS seconds each,
# starting from a scratch copy of its checked-in seed corpus test/fuzz/corpus/<name>/, so a
# run never writes into the source tree. Exits non-zero if any fuzzer crashes, leaks, times
# out or runs out of memory, and says where its crash input is.
#
#   scripts/run-fuzzers.sh build-fuzz 60          (what `make fuzz` runs)
#
# Environment:
#   RUNNEL_FUZZ_WORKDIR  where the scratch corpora, logs and crash inputs go
#                        (default: a new directory under ${TMPDIR:-/tmp}); kept if a fuzzer
#                        fails, removed otherwise.
#   RUNNEL_FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=4 -workers=4" or "-dict=...".
#
# To turn a crash into a regression test, reproduce it with the replay binary
# (build/test/fuzz/<name>_replay CRASH_FILE), fix it, and add the file to the corpus.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
build_dir=$1
seconds=$2
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || usage

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus_root=$repo_root/test/fuzz/corpus
fuzz_dir=$build_dir/test/fuzz
if [[ ! -d "$fuzz_dir" ]]; then
  echo "run-fuzzers: $fuzz_dir does not exist; build with -DRUNNEL_FUZZ=ON first" >&2
  exit 2
fi

mapfile -t fuzzers < <(find "$fuzz_dir" -maxdepth 1 -type f -name '*_fuzzer' -perm -u+x | sort)
if [[ ${#fuzzers[@]} -eq 0 ]]; then
  echo "run-fuzzers: no *_fuzzer binaries in $fuzz_dir (build --target fuzz_targets)" >&2
  exit 2
fi

workdir=${RUNNEL_FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/runnel-fuzz.XXXXXX")}
mkdir -p "$workdir"
read -r -a extra_args <<<"${RUNNEL_FUZZ_ARGS:-}"

# Prints one libFuzzer final statistic (-print_final_stats=1) from a log.
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

failed=()
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer" _fuzzer)
  work=$workdir/$name
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "$corpus_root/$name" ]]; then
    cp -R "$corpus_root/$name/." "$work/corpus/"
  else
    echo "run-fuzzers: warning: no seed corpus at $corpus_root/$name; starting empty" >&2
  fi
  seeds=$(find "$work/corpus" -type f | wc -l)
  echo "== $name: fuzzing for ${seconds}s from $seeds seed inputs"

  status=0
  "$fuzzer" "$work/corpus" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
    "${extra_args[@]}" >"$work/fuzz.log" 2>&1 || status=$?

  runs=$(stat number_of_executed_units "$work/fuzz.log")
  speed=$(stat average_exec_per_sec "$work/fuzz.log")
  corpus=$(find "$work/corpus" -type f | wc -l)
  if [[ $status -eq 0 ]]; then
    echo "   ok: ${runs:-?} runs, ${speed:-?} exec/s, corpus $seeds -> $corpus inputs"
    continue
  fi
  failed+=("$name")
  echo "!! $name FAILED (exit $status) after ${runs:-?} runs; log: $work/fuzz.log"
  grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*runtime error:)' "$work/fuzz.log" |
    head -n 5 | sed 's/^/   /' || true
  for artifact in "$work"/artifacts/*; do
    [[ -e "$artifact" ]] || continue
    echo "   crash input: $artifact"
    echo "   reproduce:   $fuzzer $artifact"
  done
  tail -n 40 "$work/fuzz.log" | sed 's/^/   | /'
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run-fuzzers: ${#failed[@]} of ${#fuzzers[@]} fuzzers failed: ${failed[*]}" >&2
  echo "run-fuzzers: crash inputs and logs are kept in $workdir" >&2
  exit 1
fi
echo "run-fuzzers: all ${#fuzzers[@]} fuzzers ran ${seconds}s without a crash"
if [[ -z "${RUNNEL_FUZZ_WORKDIR:-}" ]]; then rm -rf "$workdir"; fi
