# While another process owns the data directory, commands that write fail with one line
# naming the directory and the owner's pid; commands that only read work beside it.
source "$TOOLS_TEST_DIR/lib.sh"
"$RUNNEL" topic create t >/dev/null
echo before | "$RUNNEL" produce t

# The owner: a producer waiting on a fifo, holding the directory's lock.
mkfifo "$WORK/fifo"
"$RUNNEL" produce t --print-offsets <"$WORK/fifo" >"$WORK/owner-offsets" &
owner=$!
kill_on_exit $owner
exec 7>"$WORK/fifo"
echo during >&7
wait_for_lines "$WORK/owner-offsets" 1  # the owner has the directory open

for cmd in "topic create u" "topic delete t" "topic alter t --partitions 2" \
           "group reset-offsets g --to earliest" "group delete g" "consume t --group g"; do
  expect_error 1 "$RUNNEL_DIR" $RUNNEL $cmd
  grep -q "$owner" "$WORK/err" || fail "$cmd: the error does not name the owner's pid: $(cat "$WORK/err")"
done
expect_error 1 "$owner" "$RUNNEL" produce t </dev/null

# Read-only commands work beside the owner.
expect_eq "topic list" "t" "$("$RUNNEL" topic list)"
"$RUNNEL" topic describe t | grep -q "^Topic: t" || fail "topic describe"
"$RUNNEL" group list >/dev/null
expect_eq "consume" "$(printf 'before\nduring')" "$("$RUNNEL" consume t)"

exec 7>&-
wait $owner
# Released: writing works again.
"$RUNNEL" topic create u >/dev/null
