# consume --group commits what it printed; group list, describe (lag), reset-offsets, delete.
source "$TOOLS_TEST_DIR/lib.sh"
"$RUNNEL" topic create t >/dev/null
seq 0 4 | "$RUNNEL" produce t

expect_eq "first run" "$(seq 0 2)" "$("$RUNNEL" consume t --group g --max-messages 3)"
expect_eq "group list" "$(printf 'GROUP  STATE\ng      Empty')" "$("$RUNNEL" group list)"
# describe: committed 3 of 5.
lag() { "$RUNNEL" group describe g | awk '$1 == "t" && $2 == 0 {print $3, $4, $5}'; }
expect_eq "committed, end, lag" "3 5 2" "$(lag)"
"$RUNNEL" group describe g | grep -q "^TOPIC  *PARTITION  *CURRENT-OFFSET  *LOG-END-OFFSET  *LAG" ||
  fail "group describe columns"

# The next run resumes after the commit, and stops at the end.
expect_eq "second run" "$(seq 3 4)" "$("$RUNNEL" consume t --group g)"
expect_eq "after the end" "5 5 0" "$(lag)"
seq 5 7 | "$RUNNEL" produce t
expect_eq "lag after more records" "5 8 3" "$(lag)"

# reset-offsets: earliest, offset:N, latest, timestamp:MS.
"$RUNNEL" group reset-offsets g --to earliest >"$WORK/reset"
expect_eq "reset output" "$(printf 'TOPIC  PARTITION  NEW-OFFSET\nt      0          0')" "$(cat "$WORK/reset")"
expect_eq "after reset to earliest" "0 8 8" "$(lag)"
expect_eq "consume after reset" "0" "$("$RUNNEL" consume t --group g --max-messages 1)"
"$RUNNEL" group reset-offsets g --to offset:6 --topic t >/dev/null
expect_eq "reset to offset:6" "6 8 2" "$(lag)"
"$RUNNEL" group reset-offsets g --to offset:100 >/dev/null
expect_eq "offsets are clamped" "8 8 0" "$(lag)"
"$RUNNEL" group reset-offsets g --to timestamp:0 >/dev/null
expect_eq "reset to timestamp:0" "0 8 8" "$(lag)"
"$RUNNEL" group reset-offsets g --to latest >/dev/null
expect_eq "reset to latest" "8 8 0" "$(lag)"

# A second group is independent; --from-end starts it at the end.
expect_eq "new group from the end" "" "$("$RUNNEL" consume t --group h --from-end --timeout-ms 60000)"

expect_error 2 "--to" "$RUNNEL" group reset-offsets g --to yesterday
expect_error 2 "--to" "$RUNNEL" group reset-offsets g --to offset:x
expect_error 2 "--to" "$RUNNEL" group reset-offsets g
expect_error 1 "nope" "$RUNNEL" group reset-offsets g --to earliest --topic nope
expect_error 1 "unknown consumer group \"nope\"" "$RUNNEL" group describe nope
expect_error 2 "--offset" "$RUNNEL" consume t --group g --offset 3

expect_eq "delete" "Deleted group g." "$("$RUNNEL" group delete g)"
expect_error 1 "\"g\"" "$RUNNEL" group describe g
"$RUNNEL" group list | grep -q "^g " && fail "group g still listed"
for cmd in "group list" "group describe" "group reset-offsets" "group delete"; do
  $RUNNEL $cmd --help | grep -q "Example" || fail "$cmd --help has no example"
done
