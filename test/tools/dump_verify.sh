# `runnel dump` and `runnel verify` on a good data directory, then on copies damaged by
# byte surgery: a flipped byte in a sealed segment, a bad offset index entry, a bad time
# index entry, a torn tail (a note) and a cut in a sealed segment (a problem); user
# errors; and verify beside a live owner of the directory.
source "$TOOLS_TEST_DIR/lib.sh"
[ -n "${MAKE_LOG:-}" ] || fail "MAKE_LOG is not set"

"$MAKE_LOG" "$RUNNEL_DIR" orders 2 300 1024 || fail "make_log failed"
P0="$RUNNEL_DIR/orders-0"
SEG0="$P0/00000000000000000000"
OUT="$WORK/out"

# flip_byte FILE POS: inverts the byte at POS in place.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# set_byte FILE POS VALUE
set_byte() {
  printf "\\x$(printf %02x "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# fresh NAME: a copy of the good data directory at $WORK/NAME.
fresh() { rm -rf "$WORK/$1" && cp -r "$RUNNEL_DIR" "$WORK/$1" && echo "$WORK/$1"; }

# --- a good directory ---
"$RUNNEL" verify > "$OUT" || fail "verify of a good directory: $(cat "$OUT")"
grep -q '3 partitions, 13 segments, 61 batches checked: 0 problems, 0 notes' "$OUT" \
  || fail "verify summary: $(cat "$OUT")"
expect_eq "verify prints only the summary" 1 "$(wc -l < "$OUT")"

"$RUNNEL" dump "$SEG0.log" > "$OUT" || fail "dump of a good log: $(cat "$OUT")"
batches=$(grep -c '^baseOffset: ' "$OUT")
expect_eq "batches dumped" 5 "$batches"
expect_eq "all CRCs valid" 5 "$(grep -c 'crcValid: true' "$OUT")"
grep -q '^baseOffset: 0 lastOffset: 4 count: 5 position: 0 ' "$OUT" || fail "first batch: $(cat "$OUT")"
grep -q "compression: none timestampType: CreateTime isTransactional: false isControl: false producerId: -1" "$OUT" \
  || fail "batch attributes missing"
grep -q '^| offset' "$OUT" && fail "records printed without --print-data"

"$RUNNEL" dump --print-data "$SEG0.log" > "$OUT" || fail "dump --print-data"
expect_eq "records dumped" 25 "$(grep -c '^| offset: ' "$OUT")"
grep -qx '| offset: 0 timestamp: 1700000000000 key: key-0 value: value-0 headers: \[h=0\]' "$OUT" \
  || fail "record 0: $(grep '^| offset: 0 ' "$OUT")"
grep -qx '| offset: 24 timestamp: 1700000000044 key: key-44 value: value-44 headers: \[\]' "$OUT" \
  || fail "record 24: $(grep '^| offset: 24 ' "$OUT")"
expect_eq "offsets in order" "$(seq 0 24 | tr '\n' ' ')" \
  "$(awk '/^\| offset: / {printf "%s ", $3}' "$OUT")"

"$RUNNEL" dump "$SEG0.index" "$SEG0.timeindex" > "$OUT" || fail "dump of good indexes: $(cat "$OUT")"
grep -q '^offset: 14 position: 335$' "$OUT" || fail "index entries: $(cat "$OUT")"
grep -q '^timestamp: 1700000000024 offset: 14$' "$OUT" || fail "time index entries: $(cat "$OUT")"
"$RUNNEL" dump "$RUNNEL_DIR/__consumer_offsets-0/00000000000000000000.log" > /dev/null \
  || fail "dump of __consumer_offsets"

# --- a flipped byte inside the second batch of a sealed segment ---
D=$(fresh crc)
read -r pos size < <("$RUNNEL" dump "$D/orders-0/00000000000000000000.log" \
  | awk '/^baseOffset: 5 / {print $8, $10}')
flip_byte "$D/orders-0/00000000000000000000.log" $((pos + size - 3))
expect_exit 1 "$RUNNEL" --dir "$D" verify > "$OUT"
grep -q "^problem: $D/orders-0/00000000000000000000.log at byte $pos: .*CRC32C mismatch" "$OUT" \
  || fail "verify does not name the damaged batch: $(cat "$OUT")"
grep -q '1 problems' "$OUT" || fail "verify summary after a flip: $(tail -1 "$OUT")"
expect_exit 1 "$RUNNEL" dump "$D/orders-0/00000000000000000000.log" > "$OUT"
grep -q "position: $pos size: $size crcValid: false" "$OUT" || fail "dump shows no invalid CRC: $(cat "$OUT")"
expect_eq "dump goes on after the damaged batch" 5 "$(grep -c '^baseOffset: ' "$OUT")"

# --- a damaged length: dump skips to the next valid batch ---
D=$(fresh length)
set_byte "$D/orders-0/00000000000000000000.log" $((pos + 8)) 127
expect_exit 1 "$RUNNEL" dump "$D/orders-0/00000000000000000000.log" > "$OUT"
grep -q "^problem: .* at byte $pos: damaged batch .* bytes skipped to the next valid batch at byte $((pos + size))" "$OUT" \
  || fail "dump does not resync: $(cat "$OUT")"
expect_eq "batches after the damaged one" 4 "$(grep -c '^baseOffset: ' "$OUT")"

# --- a damaged offset index entry: entry 0 points one byte into a batch ---
D=$(fresh index)
set_byte "$D/orders-0/00000000000000000000.index" 7 $(((335 + 1) % 256))
expect_exit 1 "$RUNNEL" --dir "$D" verify > "$OUT"
grep -q "^problem: $D/orders-0/00000000000000000000.index at byte 0: entry 0 (offset 14, position 336) points inside a batch" "$OUT" \
  || fail "verify misses the index entry: $(cat "$OUT")"
expect_exit 1 "$RUNNEL" dump "$D/orders-0/00000000000000000000.index" > "$OUT"
grep -q '^problem: .*\.index at byte 0: entry 0' "$OUT" || fail "dump misses the index entry: $(cat "$OUT")"
# entry 1 names offset 23, not the last offset (24) of the batch it points at
set_byte "$D/orders-0/00000000000000000000.index" 7 $((335 % 256))
set_byte "$D/orders-0/00000000000000000000.index" 11 23
expect_exit 1 "$RUNNEL" dump "$D/orders-0/00000000000000000000.index" > "$OUT"
grep -q 'at byte 8: entry 1 (offset 23, position 687): the batch at that position holds offsets 20..24' "$OUT" \
  || fail "dump misses the wrong offset: $(cat "$OUT")"

# --- a damaged time index entry: entry 0 names offset 13, where no batch ends ---
D=$(fresh timeindex)
set_byte "$D/orders-0/00000000000000000000.timeindex" 11 13
expect_exit 1 "$RUNNEL" --dir "$D" verify > "$OUT"
grep -q "^problem: $D/orders-0/00000000000000000000.timeindex at byte 0: .*no batch of the log ends at offset 13" "$OUT" \
  || fail "verify misses the time index entry: $(cat "$OUT")"
expect_exit 1 "$RUNNEL" dump "$D/orders-0/00000000000000000000.timeindex" > /dev/null

# --- a torn last batch in a cleanly closed partition: damage, exit 1 ---
D=$(fresh torn-clean)
last=$(ls "$D/orders-1/"*.log | sort | tail -1)
truncate -s -10 "$last"
expect_exit 1 "$RUNNEL" --dir "$D" verify > "$OUT"
grep -q "^problem: $last at byte [0-9]*: damaged batch" "$OUT" \
  || fail "a torn tail after a clean close is no problem: $(cat "$OUT")"

# --- a torn last batch in the last segment: a note, exit 0 ---
# As a crash leaves it: the checkpoint does not say the partition was closed cleanly.
D=$(fresh torn)
last=$(ls "$D/orders-1/"*.log | sort | tail -1)
truncate -s -10 "$last"
rm "$D/orders-1/runnel-partition.checkpoint"
"$RUNNEL" --dir "$D" verify > "$OUT" || fail "a torn tail fails verify: $(cat "$OUT")"
grep -q "^note: $last at byte [0-9]*: torn tail" "$OUT" || fail "no torn-tail note: $(cat "$OUT")"
grep -q ' 0 problems, ' "$OUT" || fail "torn tail summary: $(tail -1 "$OUT")"
# The index entries of the lost batch are notes too: recovery drops them with it.
grep -q "^note: ${last%.log}.index at byte 8: .*points into the torn tail" "$OUT" \
  || fail "no note for the index entry of the torn batch: $(cat "$OUT")"
"$RUNNEL" dump "$last" > "$OUT" || fail "dump of a torn last segment: $(cat "$OUT")"
grep -q '^note: .*torn tail' "$OUT" || fail "dump has no torn-tail note"

# --- the same cut in a sealed segment is a problem ---
D=$(fresh cut)
truncate -s -10 "$D/orders-1/00000000000000000000.log"
expect_exit 1 "$RUNNEL" --dir "$D" verify > "$OUT"
grep -q "^problem: $D/orders-1/00000000000000000000.log at byte" "$OUT" || fail "cut sealed segment: $(cat "$OUT")"

# --- user errors: one line on stderr naming the thing, exit 2 ---
expect_exit 2 "$RUNNEL" dump "$WORK/nope.log" 2> "$OUT"
expect_eq "stderr lines" 1 "$(wc -l < "$OUT")"
grep -q "nope.log: no such file" "$OUT" || fail "missing file: $(cat "$OUT")"
echo x > "$WORK/notes.txt"
expect_exit 2 "$RUNNEL" dump "$WORK/notes.txt" 2> "$OUT"
grep -q "notes.txt: not a segment file name" "$OUT" || fail "bad name: $(cat "$OUT")"
expect_exit 2 "$RUNNEL" --dir "$WORK/missing" verify 2> "$OUT"
expect_eq "stderr lines" 1 "$(wc -l < "$OUT")"
grep -q "$WORK/missing: no such directory" "$OUT" || fail "missing dir: $(cat "$OUT")"
for cmd in dump verify; do
  "$RUNNEL" $cmd --help | grep -q "Example" || fail "$cmd --help has no example"
done
"$RUNNEL" verify --help | grep -q "note, not a problem" || fail "verify --help does not explain notes"

# --- beside a live owner: active segments' indexes are preallocated, nothing is locked ---
LIVE="$WORK/live"
HOLD="$WORK/hold"
MAKE_LOG_HOLD="$HOLD" "$MAKE_LOG" "$LIVE" live 1 50 100000 &
owner=$!
for _ in $(seq 500); do [ -e "$HOLD" ] && break; sleep 0.02; done
[ -e "$HOLD" ] || { kill "$owner"; fail "make_log did not get ready"; }
"$RUNNEL" --dir "$LIVE" verify > "$OUT" || { rm -f "$HOLD"; fail "verify beside a live owner: $(cat "$OUT")"; }
"$RUNNEL" dump "$LIVE/live-0/00000000000000000000.index" > "$OUT" || { rm -f "$HOLD"; fail "dump of a live index"; }
grep -Eq ' [1-9][0-9]* unused preallocated slots' "$OUT" || { rm -f "$HOLD"; fail "live index: $(cat "$OUT")"; }
rm -f "$HOLD"
wait "$owner" || fail "make_log (live) failed"
exit 0
