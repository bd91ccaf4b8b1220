#!/usr/bin/env bash
# The two executables of cairn (engine_locator.h), end to end:
#  * the front end `cairn` does not load libcurl, OpenSSL, SQLite,
#    cpp-httplib, spdlog or fmt for `graph`, `validate` and `--version` (read
#    from the dynamic loader's own log, LD_DEBUG=files; the same check must
#    find OpenSSL in cairn-engine, so it can fail);
#  * help, version and usage errors are byte for byte the engine's;
#  * an execution command typed to the front end runs in the engine (a
#    `cairn run` of a small workflow with --store in a temp folder, then
#    `list` and `show` of it), also through a symlink and from an install
#    layout (bin/cairn + libexec/cairn/cairn-engine);
#  * without an engine: validate/graph still work, execution commands exit
#    127 naming each path tried (126 when the engine is not executable).
# Usage: front_end_test.sh CAIRN CAIRN_ENGINE SOURCE_DIR
set -u
cairn="$1"
engine="$2"
src="$3"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cairn-front-end-test.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
unset CAIRN_ENDPOINT CAIRN_STORE CAIRN_BIN NO_COLOR
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# expect WHAT COMMAND...: the command succeeds.
expect() { local what="$1"; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# run_cmd NAME COMMAND...: runs it with stdout/stderr in $tmp/NAME.{out,err}, sets $rc.
run_cmd() { local name="$1"; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null; rc=$?; }
expect_rc() { if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"; else fail "$2: exit $rc, want $1"; sed 's/^/    /' "$tmp/$3.err" | head -20; fi; }

wf="$src/workflows/ecs-poll.yaml"

# ---- what the front end loads ---------------------------------------------------
heavy='lib(curl|ssl|crypto|sqlite3|spdlog|fmt)\.so|httplib'
loaded() { grep -oE 'file=[^ ]+' "$1" | sed 's/^file=//' | sort -u; }
for args in "graph $wf" "validate $src/workflows/map.yaml" "--version"; do
  # shellcheck disable=SC2086  # split on purpose
  LD_DEBUG=files "$cairn" $args >"$tmp/load.out" 2>"$tmp/load.err"
  rc=$?
  expect_rc 0 "cairn $args" load
  found="$(loaded "$tmp/load.err" | grep -E "$heavy" | tr '\n' ' ')"
  if [ -z "$found" ]; then ok "cairn ${args%% *} loads no libcurl/OpenSSL/SQLite/httplib/spdlog/fmt"; else fail "cairn ${args%% *} loads $found"; fi
done
expect "the loader log lists libjq for cairn graph (the check reads the right log)" \
  bash -c "LD_DEBUG=files '$cairn' graph '$wf' 2>&1 >/dev/null | grep -q 'file=libjq'"
LD_DEBUG=files "$engine" --version >/dev/null 2>"$tmp/engine-load.err"
expect "the same check finds libssl and libcrypto in cairn-engine --version" \
  bash -c "grep -q 'file=libssl' '$tmp/engine-load.err' && grep -q 'file=libcrypto' '$tmp/engine-load.err'"
expect "cairn graph prints the graph" bash -c "'$cairn' graph '$wf' | grep -q flowchart"

# ---- help, version, usage errors: the same as the engine's ---------------------
same_as_engine() {  # WANT_RC ARGS...
  local want="$1"; shift
  "$cairn" "$@" >"$tmp/f.out" 2>"$tmp/f.err" </dev/null; local frc=$?
  "$engine" "$@" >"$tmp/e.out" 2>"$tmp/e.err" </dev/null; local erc=$?
  if [ "$frc" -eq "$want" ] && [ "$erc" -eq "$want" ] && cmp -s "$tmp/f.out" "$tmp/e.out" &&
     cmp -s "$tmp/f.err" "$tmp/e.err" && [ -s "$tmp/f.out" -o -s "$tmp/f.err" ]; then
    ok "cairn $* (exit $frc, output identical to cairn-engine's)"
  else
    fail "cairn $*: exit $frc/$erc (want $want), output differs from the engine's or is empty"
    diff "$tmp/f.out" "$tmp/e.out" | head -10; diff "$tmp/f.err" "$tmp/e.err" | head -10
  fi
}
same_as_engine 0 --help
same_as_engine 0 --version
same_as_engine 0 run --help
same_as_engine 0 callback --help
same_as_engine 0 lambda --help
same_as_engine 2
same_as_engine 2 run
same_as_engine 2 run /nonexistent/w.yaml
same_as_engine 2 list --status DONE
same_as_engine 2 frobnicate
expect "cairn --help lists every command" bash -c \
  "out=\$('$cairn' --help); for c in validate graph run serve callback list show history stop lambda; do grep -qE \"^  \$c \" <<<\"\$out\" || exit 1; done"
expect "cairn run --help is run's help" bash -c "'$cairn' run --help | grep -q 'Run a workflow in the foreground'"
expect "cairn --version says cairn" bash -c "'$cairn' --version | grep -qE '^cairn [0-9]'"

# ---- execution commands go to the engine ----------------------------------------
cat >"$tmp/hello.yaml" <<'YAML'
cairn: 1
name: front-end-hello
steps:
  - name: greet
    set: ${ "hello " + .input.who }
  - name: where
    process.run:
      command: [sh, -c, 'printf %s "$CAIRN_BIN"']
output: {greeting: '${ .steps.greet }', bin: '${ .steps.where.stdout }'}
YAML
store="$tmp/state/cairn.db"
run_cmd run "$cairn" run "$tmp/hello.yaml" --input '{"who": "front end"}' --name fe-1 --store "$store"
expect_rc 0 "cairn run through the front end" run
expect "its result is the workflow's output" grep -q '"greeting": *"hello front end"' "$tmp/run.out"
expect "the run was executed by cairn-engine (its CAIRN_BIN)" \
  grep -q "\"bin\": *\"$(readlink -f "$engine")\"" "$tmp/run.out"
run_cmd list "$cairn" list --store "$store"
expect_rc 0 "cairn list" list
expect "cairn list shows the execution" grep -q 'fe-1' "$tmp/list.out"
run_cmd show "$cairn" show fe-1 --format json --store "$store"
expect_rc 0 "cairn show" show
expect "cairn show: SUCCEEDED" grep -q 'SUCCEEDED' "$tmp/show.out"
run_cmd cb "$cairn" callback succeed no-such-id --store "$store"
expect_rc 1 "cairn callback of an unknown id is refused by the engine" cb

# Through a symlink (/proc/self/exe resolves it to the build folder).
mkdir -p "$tmp/links"
ln -s "$(readlink -f "$cairn")" "$tmp/links/cairn"
run_cmd link "$tmp/links/cairn" list --store "$store"
expect_rc 0 "a symlink to cairn finds the engine beside the real file" link

# An install layout: PREFIX/bin/cairn, PREFIX/libexec/cairn/cairn-engine.
mkdir -p "$tmp/prefix/bin" "$tmp/prefix/libexec/cairn"
cp "$cairn" "$tmp/prefix/bin/cairn"
cp "$engine" "$tmp/prefix/libexec/cairn/cairn-engine"
run_cmd installed "$tmp/prefix/bin/cairn" show fe-1 --store "$store"
expect_rc 0 "bin/cairn finds libexec/cairn/cairn-engine" installed

# ---- no engine ------------------------------------------------------------------
mkdir -p "$tmp/alone"
cp "$cairn" "$tmp/alone/cairn"
run_cmd alone-graph "$tmp/alone/cairn" graph "$wf"
expect_rc 0 "cairn graph works without the engine" alone-graph
run_cmd alone-validate "$tmp/alone/cairn" validate "$wf"
expect_rc 0 "cairn validate works without the engine" alone-validate
run_cmd alone-run "$tmp/alone/cairn" run "$tmp/hello.yaml" --store "$store"
expect_rc 127 "cairn run without the engine" alone-run
expect "the error names the path beside cairn" grep -qF "$tmp/alone/cairn-engine: No such file or directory" "$tmp/alone-run.err"
expect "the error names the libexec path" grep -qF "$tmp/libexec/cairn/cairn-engine: No such file or directory" "$tmp/alone-run.err"
expect "the error says what is missing" grep -q 'cannot start cairn-engine' "$tmp/alone-run.err"
run_cmd alone-usage "$tmp/alone/cairn" run
expect_rc 2 "a usage error is reported without looking for the engine" alone-usage
cp "$tmp/hello.yaml" "$tmp/alone/cairn-engine"  # exists, not executable
run_cmd alone-noexec "$tmp/alone/cairn" list --store "$store"
expect_rc 126 "an engine that is not executable" alone-noexec
expect "the error says why" grep -qF "$tmp/alone/cairn-engine: Permission denied" "$tmp/alone-noexec.err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
