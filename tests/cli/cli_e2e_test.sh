#!/usr/bin/env bash
# End-to-end test of the cairn CLI's execution commands.
# Usage: cli_e2e_test.sh CAIRN_BINARY SOURCE_DIR
set -u
CAIRN=$1
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
STORE="$TMP/state/cairn.db"
export CAIRN_BIN="$CAIRN"
unset CAIRN_ENDPOINT CAIRN_STORE
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# expect_status WANT GOT WHAT
expect_status() { if [ "$2" -eq "$1" ]; then ok "$3 (exit $2)"; else fail "$3: exit $2, want $1"; fi; }
expect_grep() { if grep -q -- "$1" "$2"; then ok "$3"; else fail "$3: '$1' not in $2:"; cat "$2"; fi; }

cat > "$TMP/smoke.yaml" <<'YAML'
cairn: 1
name: cli-smoke
steps:
  - name: pause
    wait: 1s
  - name: hello
    process.run:
      command: [echo, hello from cairn]
output: ${ .steps.hello.stdout }
YAML

cat > "$TMP/failing.yaml" <<'YAML'
cairn: 1
name: cli-failing
steps:
  - name: boom
    process.run:
      command: [sh, -c, "echo broken >&2; exit 3"]
YAML

# 1. wait + process.run: result printed, exit 0
"$CAIRN" run "$TMP/smoke.yaml" --store "$STORE" --name smoke-1 >"$TMP/out1" 2>"$TMP/err1"
expect_status 0 $? "run smoke"
expect_grep "hello from cairn" "$TMP/out1" "smoke result on stdout"
expect_grep "✓ hello" "$TMP/err1" "smoke step progress"
expect_grep "pause waiting" "$TMP/err1" "smoke wait progress"
[ -f "$STORE.server" ] && fail "server file left behind" || ok "server file removed"

# 2. local-callback: the detached worker calls `cairn callback succeed`
timeout 60 "$CAIRN" run "$SRC/workflows/local-callback.yaml" --store "$STORE" --name cb-1 \
  --input '{"message": "one two three", "processingTime": 1}' >"$TMP/out2" 2>"$TMP/err2"
expect_status 0 $? "run local-callback"
expect_grep '"words": 3' "$TMP/out2" "callback result reached the execution"
expect_grep "waits for callback" "$TMP/err2" "callback id printed"
expect_grep "cairn callback succeed" "$TMP/err2" "callback command printed"

# 3. a failing workflow exits 1
"$CAIRN" run "$TMP/failing.yaml" --store "$STORE" --name fail-1 >"$TMP/out3" 2>"$TMP/err3"
expect_status 1 $? "run failing"
expect_grep "FAILED" "$TMP/err3" "failure reported"

# 4. list / show / history / stop against the store
"$CAIRN" list --store "$STORE" >"$TMP/list" 2>&1
expect_status 0 $? "list"
expect_grep "smoke-1" "$TMP/list" "list shows smoke-1"
expect_grep "cb-1" "$TMP/list" "list shows cb-1"
"$CAIRN" list --store "$STORE" --status FAILED --format json >"$TMP/listj" 2>&1
expect_grep '"fail-1"' "$TMP/listj" "list --status FAILED json"
"$CAIRN" show cb-1 --store "$STORE" >"$TMP/show" 2>&1
expect_status 0 $? "show"
expect_grep "SUCCEEDED" "$TMP/show" "show status"
"$CAIRN" history cb-1 --store "$STORE" >"$TMP/hist" 2>&1
expect_status 0 $? "history"
expect_grep "CallbackStarted" "$TMP/hist" "history has CallbackStarted"
expect_grep "ExecutionSucceeded" "$TMP/hist" "history has ExecutionSucceeded"
"$CAIRN" history cb-1 --store "$STORE" --format json >"$TMP/histj" 2>&1
expect_grep '"EventType"' "$TMP/histj" "history json"
"$CAIRN" show nope --store "$STORE" >"$TMP/nope" 2>&1
expect_status 1 $? "show unknown execution"
"$CAIRN" stop smoke-1 --store "$STORE" >"$TMP/stop" 2>&1
expect_status 1 $? "stop an ended execution"

# 5. callbacks without a server
"$CAIRN" callback succeed not-a-callback --store "$STORE" --result '{}' >"$TMP/cb" 2>&1
expect_status 1 $? "callback with an unknown id"
expect_grep "unknown, expired or already completed" "$TMP/cb" "unknown callback message"

# 6. usage errors exit 2
"$CAIRN" >/dev/null 2>&1; expect_status 2 $? "no subcommand"
"$CAIRN" run >/dev/null 2>&1; expect_status 2 $? "run without a file"
"$CAIRN" run "$TMP/smoke.yaml" --store "$STORE" --input '{bad' >/dev/null 2>&1
expect_status 2 $? "run with bad --input"
"$CAIRN" callback succeed x --store "$STORE" --result '{bad' >/dev/null 2>&1
expect_status 2 $? "callback with bad --result"
"$CAIRN" list --status NOPE >/dev/null 2>&1; expect_status 2 $? "list with a bad status"
"$CAIRN" --help >"$TMP/help" 2>&1
expect_grep "callback" "$TMP/help" "help lists callback"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
