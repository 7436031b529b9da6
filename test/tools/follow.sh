# consume --follow tails a live log that another process owns and is writing: each record
# the writer acknowledges reaches the reader before the writer sends the next.
source "$TOOLS_TEST_DIR/lib.sh"
"$RUNNEL" topic create live --partitions 2 >/dev/null

# The writer: a producer reading a fifo line by line, holding the directory.
mkfifo "$WORK/fifo"
"$RUNNEL" produce live --key-separator = --print-offsets <"$WORK/fifo" >"$WORK/written" &
writer=$!
kill_on_exit $writer
exec 7>"$WORK/fifo"

# The reader: read-only beside the writer, until it has seen 6 records.
"$RUNNEL" consume live --follow --max-messages 6 --timeout-ms 60000 --format '%k=%v\n' \
  >"$WORK/read" &
reader=$!
kill_on_exit $reader

for i in 1 2 3 4 5 6; do
  echo "k$((i % 2))=record-$i" >&7
  wait_for_lines "$WORK/written" "$i"
  # The reader sees records of both partitions as they come; compare per key (one
  # partition each), in order.
  wait_for_lines "$WORK/read" "$i"
done
status=0
wait $reader || status=$?
expect_eq "reader exit" "0" "$status"
expect_eq "k0 records" "$(printf 'k0=record-2\nk0=record-4\nk0=record-6')" "$(grep '^k0=' "$WORK/read")"
expect_eq "k1 records" "$(printf 'k1=record-1\nk1=record-3\nk1=record-5')" "$(grep '^k1=' "$WORK/read")"
exec 7>&-
wait $writer

# Without --follow, consume stops at the end; --follow with --timeout-ms stops once idle.
expect_eq "no follow" "6" "$("$RUNNEL" consume live | wc -l)"
expect_eq "idle timeout" "6" "$("$RUNNEL" consume live --follow --timeout-ms 200 | wc -l)"
