# Shared by the tools/*.sh tests: `source "$TOOLS_TEST_DIR/lib.sh"`.
set -euo pipefail
export RUNNEL_DIR="$WORK/data"
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() { [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"; }
# expect_exit CODE COMMAND...: runs COMMAND, which must exit with CODE.
expect_exit() {
  local want=$1; shift
  local got=0
  "$@" || got=$?
  [ "$got" -eq "$want" ] || fail "exit code $got, expected $want: $*"
}
# expect_error CODE TEXT COMMAND...: COMMAND exits with CODE and prints exactly one line on
# standard error, containing TEXT (a fixed string). Its standard output goes to $WORK/out.
expect_error() {
  local want=$1 text=$2; shift 2
  local got=0
  "$@" >"$WORK/out" 2>"$WORK/err" || got=$?
  [ "$got" -eq "$want" ] || fail "exit code $got, expected $want: $* (stderr: $(cat "$WORK/err"))"
  [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "expected one line on stderr from $*, got: $(cat "$WORK/err")"
  grep -qF -- "$text" "$WORK/err" || fail "stderr of $* lacks [$text]: $(cat "$WORK/err")"
}
# wait_for_lines FILE N: waits until FILE has at least N lines. Polls for a condition; the
# 60-second limit is only a safety net against a hang, never a timing assertion.
wait_for_lines() {
  local i
  for ((i = 0; i < 1200; i++)); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  fail "$1 did not reach $2 lines: $(cat "$1" 2>/dev/null)"
}
# kill_on_exit PID...: kills these background processes when the script exits.
KILL_ON_EXIT=()
kill_on_exit() {
  KILL_ON_EXIT+=("$@")
  trap 'kill "${KILL_ON_EXIT[@]}" 2>/dev/null || true' EXIT
}
