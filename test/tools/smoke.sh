# The tool runs, and a missing subcommand is a usage error (exit 2).
source "$TOOLS_TEST_DIR/lib.sh"
"$RUNNEL" --help | grep -q "Exit codes" || fail "--help does not say the exit codes"
expect_exit 2 "$RUNNEL"
