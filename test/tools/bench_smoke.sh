# `runnel bench produce|consume|e2e` with tiny sizes: the JSON has the expected keys and
# counts, the temporary directory is removed, --dir keeps a directory that verifies clean,
# and bad flag values are usage errors. Behaviour only, never timing.
source "$TOOLS_TEST_DIR/lib.sh"
export TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
OUT="$WORK/out.json"

# check_json FILE KEY=VALUE...: FILE holds one JSON object with those keys (and values,
# when given) and every throughput or latency key of its command.
check_json() {
  local file=$1; shift
  python3 - "$file" "$@" <<'EOF' || fail "bad JSON in $1: $(cat "$1")"
import json, sys
doc = json.load(open(sys.argv[1]))
need = {"produce": ["records", "bytes", "seconds", "records_per_second", "megabytes_per_second", "threads"],
        "consume": ["records", "bytes", "seconds", "records_per_second", "megabytes_per_second", "consumers", "group"],
        "e2e": ["records", "seconds", "rate", "burst", "latency_us"]}[doc["command"]]
for key in need + ["record_size", "partitions", "acks", "sync", "dir"]:
    assert key in doc, f"missing {key}"
if doc["command"] == "e2e":
    lat = doc["latency_us"]
    assert set(lat) == {"p50", "p99", "p99_9", "max"}, lat
    assert 0 <= lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat
for arg in sys.argv[2:]:
    key, value = arg.split("=", 1)
    assert str(doc[key]) == value, f"{key}: {doc[key]} != {value}"
EOF
}

"$RUNNEL" bench produce --records 2000 --json > "$OUT" || fail "bench produce"
check_json "$OUT" command=produce records=2000 bytes=232000 partitions=1 acks=all sync=none
"$RUNNEL" bench produce --records 3001 --threads 2 --partitions 3 --record-size 10 --key-size 0 \
  --acks 0 --sync interval --flush-ms 5 --json > "$OUT" || fail "bench produce with knobs"
check_json "$OUT" records=3001 bytes=30010 threads=2 partitions=3 acks=0 sync=interval key_size=0
"$RUNNEL" bench produce --duration 0.2 --sync always --json > "$OUT" || fail "bench produce --duration"
check_json "$OUT" sync=always
"$RUNNEL" bench consume --records 2000 --partitions 4 --consumers 2 --json > "$OUT" || fail "bench consume"
check_json "$OUT" command=consume records=2000 consumers=2 group=False
"$RUNNEL" bench consume --records 2000 --partitions 2 --consumers 2 --group --json > "$OUT" \
  || fail "bench consume --group"
check_json "$OUT" records=2000 group=True
"$RUNNEL" bench e2e --rate 2000 --duration 0.2 --json > "$OUT" || fail "bench e2e"
check_json "$OUT" command=e2e records=400 rate=2000
"$RUNNEL" bench e2e --rate 2000 --burst 10 --duration 0.2 --partitions 2 --json > "$OUT" \
  || fail "bench e2e --burst"
check_json "$OUT" records=400 burst=10 partitions=2

# The table: one row per figure.
"$RUNNEL" bench produce --records 100 > "$OUT" || fail "bench produce (table)"
grep -q '^  records/s ' "$OUT" || fail "no records/s row: $(cat "$OUT")"
"$RUNNEL" bench e2e --rate 1000 --duration 0.1 > "$OUT" || fail "bench e2e (table)"
grep -q '^  latency p99.9 (us) ' "$OUT" || fail "no p99.9 row: $(cat "$OUT")"

# Temporary directories are removed; --dir is kept, and verifies clean.
expect_eq "left in TMPDIR" "" "$(ls "$TMPDIR")"
"$RUNNEL" bench produce --records 500 --partitions 2 --dir "$WORK/kept" --json > "$OUT" \
  || fail "bench produce --dir"
check_json "$OUT" dir="$WORK/kept"
ls -d "$WORK"/kept/bench-produce-*-1 > /dev/null || fail "no topic kept in --dir"
"$RUNNEL" --dir "$WORK/kept" verify > /dev/null || fail "verify of a bench directory"

# Usage errors: exit 2, one line on stderr naming the flag.
expect_exit 2 "$RUNNEL" bench produce --partitions 0 2> "$OUT"
grep -q -- '--partitions' "$OUT" || fail "bad --partitions: $(cat "$OUT")"
expect_exit 2 "$RUNNEL" bench produce --acks 2 2> /dev/null
expect_exit 2 "$RUNNEL" bench produce --records 10 --duration 1 2> /dev/null
expect_exit 2 "$RUNNEL" bench e2e --record-size 4 2> /dev/null
expect_exit 2 "$RUNNEL" bench 2> /dev/null
for cmd in "" produce consume e2e; do
  "$RUNNEL" bench $cmd --help | grep -q "Example" || fail "bench $cmd --help has no example"
done
exit 0
