# runnel produce and consume: lines in, records out in order, with keys, headers, the
# kcat format tokens, --print-offsets, and the start and stop options.
source "$TOOLS_TEST_DIR/lib.sh"
"$RUNNEL" topic create t --partitions 2 >/dev/null

# Keys, headers, --print-offsets in input order (all on partition 0 here).
printf 'k1:v1\nk2:v2:with colon\nno key here\n:empty key\n' |
  "$RUNNEL" produce t --partition 0 --key-separator : --header src=cli --header e= \
    --print-offsets --sync always >"$WORK/offsets"
expect_eq "print-offsets" "$(printf '0 0\n0 1\n0 2\n0 3')" "$(cat "$WORK/offsets")"
expect_eq "values" "$(printf 'v1\nv2:with colon\nno key here\nempty key')" \
  "$("$RUNNEL" consume t --partition 0)"
expect_eq "format" \
  "$(printf 't|0|0|k1|v1|2|2|src=cli,e=\nt|0|1|k2|v2:with colon|2|13|src=cli,e=\nt|0|2||no key here|-1|11|src=cli,e=\nt|0|3||empty key|0|9|src=cli,e=')" \
  "$("$RUNNEL" consume t --partition 0 --format '%t|%p|%o|%k|%v|%K|%S|%h\n')"
expect_eq "escapes" "$(printf '0\t%%\\')" "$("$RUNNEL" consume t --max-messages 1 --format '%o\t%%\\')"

# Keyed records go to a partition by key; the same key always to the same one.
seq 1 20 | sed 's/^/same:/' | "$RUNNEL" produce t -K : --print-offsets >"$WORK/offsets"
expect_eq "one partition per key" "1" "$(cut -d' ' -f1 "$WORK/offsets" | sort -u | wc -l)"
p=$(head -1 "$WORK/offsets" | cut -d' ' -f1)
expect_eq "consume a partition in order" "$(seq 1 20)" \
  "$("$RUNNEL" consume t --partition "$p" --format '%k %v\n' | awk '$1 == "same" {print $2}')"

# --partition, --offset (negative: from the end), --max-messages.
"$RUNNEL" topic create p --partitions 3 >/dev/null
seq 0 9 | "$RUNNEL" produce p --partition 2
expect_eq "--offset" "$(seq 7 9)" "$("$RUNNEL" consume p --partition 2 --offset 7)"
expect_eq "--offset -2" "$(seq 8 9)" "$("$RUNNEL" consume p --offset -2)"
expect_eq "--offset past the end" "" "$("$RUNNEL" consume p --offset 100)"
expect_eq "--max-messages" "$(seq 0 3)" "$("$RUNNEL" consume p --max-messages 4)"
expect_eq "--from-end" "" "$("$RUNNEL" consume p --from-end)"
expect_eq "empty partition" "" "$("$RUNNEL" consume p --partition 0)"
expect_eq "--file" "x" "$(echo x >"$WORK/in" && "$RUNNEL" produce p --partition 1 --file "$WORK/in" &&
                          "$RUNNEL" consume p --partition 1)"

# --timestamp: the first record whose timestamp is >= MS, per partition.
seq 1 3 | "$RUNNEL" produce p --partition 0
seq 4 6 | "$RUNNEL" produce p --partition 0
"$RUNNEL" consume p --partition 0 --format '%T %v\n' >"$WORK/times"
ts=$(awk '$2 == 4 {print $1}' "$WORK/times")
expect_eq "--timestamp" "$(awk -v ts="$ts" '$1 >= ts {print $2}' "$WORK/times")" \
  "$("$RUNNEL" consume p --partition 0 --timestamp "$ts")"
expect_eq "--timestamp 0" "$(seq 1 6)" "$("$RUNNEL" consume p --partition 0 --timestamp 0)"
expect_eq "--timestamp later than all" "" "$("$RUNNEL" consume p --partition 0 --timestamp 99999999999999)"

# produce streams: each line is acknowledged before the input ends.
mkfifo "$WORK/fifo"
"$RUNNEL" produce p --partition 1 --print-offsets <"$WORK/fifo" >"$WORK/streamed" &
producer=$!
kill_on_exit $producer
exec 7>"$WORK/fifo"
echo first >&7
wait_for_lines "$WORK/streamed" 1
echo second >&7
wait_for_lines "$WORK/streamed" 2
exec 7>&-
wait $producer
expect_eq "streamed offsets" "$(printf '1 1\n1 2')" "$(cat "$WORK/streamed")"

# A reader that goes away early is not an error.
seq 1 50000 | "$RUNNEL" produce p --partition 1
status=0
"$RUNNEL" consume p --partition 1 | head -3 >"$WORK/head" || status=$?
expect_eq "consume | head exit" "0" "$status"
expect_eq "consume | head" "$(printf 'x\nfirst\nsecond')" "$(cat "$WORK/head")"

# Errors: one line naming the thing.
expect_error 1 "unknown topic \"nope\"" "$RUNNEL" produce nope </dev/null
expect_error 1 "unknown topic \"nope\"" "$RUNNEL" consume nope
expect_error 1 "partition 7" "$RUNNEL" produce p --partition 7 </dev/null
expect_error 1 "partition 7" "$RUNNEL" consume p --partition 7
expect_error 1 "$WORK/missing" "$RUNNEL" produce p --file "$WORK/missing"
expect_error 2 "--acks" "$RUNNEL" produce p --acks 3 </dev/null
expect_error 2 "--sync" "$RUNNEL" produce p --sync sometimes </dev/null
expect_error 2 "KEY=VALUE" "$RUNNEL" produce p --header novalue </dev/null
expect_error 2 "%x" "$RUNNEL" consume p --format '%x'
expect_error 2 "--offset" "$RUNNEL" consume p --from-beginning --offset 3
expect_error 2 "--partition" "$RUNNEL" consume p --partition -1
for cmd in produce consume; do
  "$RUNNEL" $cmd --help | grep -q "Example" || fail "$cmd --help has no example"
done
