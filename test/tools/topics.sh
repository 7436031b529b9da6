# runnel topic create|list|describe|alter|delete, and their errors.
source "$TOOLS_TEST_DIR/lib.sh"

# A read command on a directory that does not exist says so, and does not create it.
expect_error 1 "$RUNNEL_DIR does not exist" "$RUNNEL" topic list
[ ! -e "$RUNNEL_DIR" ] || fail "topic list created the data directory"
expect_error 2 "--dir" env -u RUNNEL_DIR "$RUNNEL" topic list

expect_eq "create" "Created topic orders." \
  "$("$RUNNEL" topic create orders --partitions 3 --config retention.ms=3600000)"
"$RUNNEL" topic create audit.log-v1 >/dev/null
expect_eq "list" "$(printf 'audit.log-v1\norders')" "$("$RUNNEL" topic list)"

"$RUNNEL" topic describe orders >"$WORK/describe"
grep -q "^Topic: orders	PartitionCount: 3	Configs: retention.ms=3600000$" "$WORK/describe" ||
  fail "describe header: $(cat "$WORK/describe")"
grep -q "^PARTITION  LOG-START-OFFSET  LOG-END-OFFSET  VISIBLE-OFFSET  SIZE-BYTES$" "$WORK/describe" ||
  fail "describe columns: $(cat "$WORK/describe")"
expect_eq "partition rows" "0 1 2" "$(awk '/^[0-9]/ {printf "%s%s", sep, $1; sep=" "}' "$WORK/describe")"
"$RUNNEL" topic describe orders --all-configs | grep -q "^	segment.bytes=" || fail "--all-configs"
# Without a name, every topic.
expect_eq "describe all" "2" "$("$RUNNEL" topic describe | grep -c '^Topic: ')"

# Records show up in the offsets and sizes.
printf 'a\nb\n' | "$RUNNEL" produce orders --partition 1
expect_eq "partition 1 after 2 records" "1 0 2 2" \
  "$("$RUNNEL" topic describe orders | awk '$1 == 1 {print $1, $2, $3, $4}')"
[ "$("$RUNNEL" topic describe orders | awk '$1 == 1 {print $5}')" -gt 0 ] || fail "size of partition 1"

# alter: more partitions, a changed setting.
"$RUNNEL" topic alter orders --partitions 5 --config retention.ms=60000 --config sync.policy=always >/dev/null
"$RUNNEL" topic describe orders >"$WORK/describe"
grep -q "PartitionCount: 5" "$WORK/describe" || fail "alter --partitions: $(cat "$WORK/describe")"
grep -q "retention.ms=60000" "$WORK/describe" || fail "alter --config: $(cat "$WORK/describe")"
grep -q "sync.policy=always" "$WORK/describe" || fail "alter --config: $(cat "$WORK/describe")"
expect_error 1 "orders" "$RUNNEL" topic alter orders --partitions 2
expect_error 1 "no.such.setting" "$RUNNEL" topic alter orders --config no.such.setting=1
expect_error 2 "nothing to change" "$RUNNEL" topic alter orders

# Errors: one line naming the thing.
expect_error 1 "already exists" "$RUNNEL" topic create orders
"$RUNNEL" topic create orders --if-not-exists >/dev/null
expect_error 1 "bad name" "$RUNNEL" topic create "bad name"
expect_error 1 "topic name" "$RUNNEL" topic create ..
expect_error 1 "retention.ms" "$RUNNEL" topic create t --config retention.ms=soon
expect_error 1 "bogus.key" "$RUNNEL" topic create t --config bogus.key=1
expect_error 2 "KEY=VALUE" "$RUNNEL" topic create t --config retention.ms
expect_error 2 "--partitions" "$RUNNEL" topic create t --partitions 0
expect_error 2 "--partitions" "$RUNNEL" topic create t --partitions many
expect_error 2 "--bogus" "$RUNNEL" topic list --bogus
expect_error 2 "" "$RUNNEL" topic
expect_error 1 "unknown topic \"nope\"" "$RUNNEL" topic describe nope
expect_error 1 "unknown topic \"nope\"" "$RUNNEL" topic delete nope
expect_error 1 "unknown topic \"nope\"" "$RUNNEL" topic alter nope --partitions 9

expect_eq "delete" "Deleted topic orders." "$("$RUNNEL" topic delete orders)"
expect_eq "list after delete" "audit.log-v1" "$("$RUNNEL" topic list)"

# Every command's help has an example.
for cmd in "topic create" "topic list" "topic describe" "topic alter" "topic delete"; do
  $RUNNEL $cmd --help | grep -q "Example" || fail "$cmd --help has no example"
done
