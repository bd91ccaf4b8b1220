#!/usr/bin/env bash
# Builds the Lambda package of a cairn binary with scripts/package-lambda and
# checks what ships (DEPLOY.md):
#  * the layout: bootstrap (executable), bin/cairn, lib/ with the loader and
#    glibc, every workflow of workflows/;
#  * every DT_NEEDED of every shipped ELF is in lib/, and every GLIBC_2.35+
#    symbol version any of them needs is defined by a library in lib/ (so
#    nothing needs Amazon Linux 2023's glibc 2.34);
#  * the bundled loader resolves every library inside lib/ (none from the host);
#  * libcurl is not linked (bin/cairn has no DT_NEEDED on it, so the cold start
#    does not load it) but ships as lib/libcurl.so.4 with its dependencies, and
#    a workflow's http.request, run through the bundled loader, loads it;
#  * bin/cairn runs through the bundled loader with an empty environment from a
#    foreign working directory (--version, and `validate` of every workflow),
#    and, when this machine allows chroot, inside a root holding nothing but
#    the package (no host userland at all);
#  * bootstrap, started with an empty environment from a foreign working
#    directory, reaches `cairn lambda` (its --help when the subcommand exists,
#    else cairn's own usage error rather than a loader error).
# Usage: package_test.sh CAIRN_BINARY SOURCE_DIR
set -uo pipefail
binary="$1"
src="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-package-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { local what="$1"; shift; if "$@"; then ok; else fail "$what"; fi; }

if ! "$src/scripts/package-lambda" --binary "$binary" --out "$work/cairn-lambda.zip"; then
  echo "FAIL scripts/package-lambda"
  echo "0 passed, 1 failed"
  exit 1
fi
x="$work/x"
mkdir -p "$x"
unzip -q "$work/cairn-lambda.zip" -d "$x"

# ---- layout ------------------------------------------------------------------
expect "bootstrap is an executable file at the root" test -x "$x/bootstrap" -a -f "$x/bootstrap"
expect "bin/cairn is executable" test -x "$x/bin/cairn"
expect "lib/ld-linux-x86-64.so.2 is executable" test -x "$x/lib/ld-linux-x86-64.so.2"
expect "lib/libc.so.6 is bundled" test -f "$x/lib/libc.so.6"
expect "a CA bundle is bundled (the fallback of bootstrap's SSL_CERT_FILE)" \
  bash -c "grep -q 'BEGIN CERTIFICATE' '$x/etc/ca-certificates.crt'"
for wf in "$src"/workflows/*.yaml; do
  expect "workflows/$(basename "$wf") is bundled" cmp -s "$wf" "$x/workflows/$(basename "$wf")"
  expect "workflows/cairn-manifest.json lists $(basename "$wf") with its SHA-256" \
    grep -q "\"$(basename "$wf")\": \"$(sha256sum "$wf" | cut -d' ' -f1)\"" "$x/workflows/cairn-manifest.json"
done
# shellcheck disable=SC2016  # the literal text of the script
expect "bootstrap starts bin/cairn lambda through the bundled loader" \
  grep -q 'exec "$root/lib/ld-linux-x86-64.so.2" --library-path "$root/lib" "$root/bin/cairn" lambda' "$x/bootstrap"
expect "bin/cairn is x86-64" bash -c "objdump -f '$x/bin/cairn' | grep -q 'elf64-x86-64'"

# ---- libraries and symbol versions ---------------------------------------------
elves=("$x/bin/cairn" "$x"/lib/*)
for elf in "${elves[@]}"; do
  while read -r needed; do
    expect "$(basename "$elf") needs $needed, which is in lib/" test -f "$x/lib/$needed"
  done < <(objdump -p "$elf" | awk '$1 == "NEEDED" {print $2}')
done
# Versions defined by the bundle ("GLIBC_2.36" etc., from the version definitions).
defined="$(for elf in "$x"/lib/*; do objdump -p "$elf" | awk '/^Version definitions:/ {d=1; next} /^Version References:/ {d=0} d && NF >= 4 {print $4}'; done | sort -u)"
# Versions required by any shipped ELF (its undefined dynamic symbols).
required="$(for elf in "${elves[@]}"; do objdump -T "$elf" | awk '$0 ~ /\*UND\*/ {for (i = 1; i <= NF; i++) if ($i ~ /^\(?GLIBC_[0-9.]+\)?$/) {gsub(/[()]/, "", $i); print $i}}'; done | sort -u)"
newest=""
while read -r v; do
  [ -n "$v" ] || continue
  newest="$v"
  case "$v" in
    GLIBC_2.3[5-9]*|GLIBC_2.[4-9]*)
      expect "$v (newer than Amazon Linux 2023's glibc 2.34) is defined inside the bundle" \
        grep -qx "$v" <<<"$defined" ;;
  esac
done < <(sort -V <<<"$required")
echo "newest glibc version required by what ships: ${newest:-none} (defined in lib/: $(grep -c '^GLIBC_' <<<"$defined") GLIBC_ versions)"
expect "the bundled glibc defines GLIBC_2.36 (it is Debian 12's, not the host's)" grep -qx GLIBC_2.36 <<<"$defined"

listing="$(cd / && env -i "$x/lib/ld-linux-x86-64.so.2" --library-path "$x/lib" --list "$x/bin/cairn" 2>&1)"
expect "the bundled loader lists cairn's libraries" test -n "$listing"
outside="$(awk '/=>/ {print $3}' <<<"$listing" | grep -v "^$x/lib/" || true)"
expect "every library resolves inside lib/ (outside: ${outside:-none})" test -z "$outside"
if grep -q 'not found' <<<"$listing"; then fail "a library is missing: $listing"; else ok; fi

# ---- libcurl: loaded on first use, shipped all the same ---------------------------
if objdump -p "$x/bin/cairn" | awk '$1 == "NEEDED" {print $2}' | grep -q '^libcurl'; then
  fail "bin/cairn has a DT_NEEDED on libcurl (it should load it with dlopen on first use)"
else ok; fi
expect "lib/libcurl.so.4 is bundled (cairn loads it by that name)" test -f "$x/lib/libcurl.so.4"
curl_listing="$(cd / && env -i "$x/lib/ld-linux-x86-64.so.2" --library-path "$x/lib" --list "$x/lib/libcurl.so.4" 2>&1)"
curl_outside="$(awk '/=>/ {print $3}' <<<"$curl_listing" | grep -v "^$x/lib/" || true)"
expect "libcurl's libraries resolve inside lib/ (outside: ${curl_outside:-none})" \
  test -n "$curl_listing" -a -z "$curl_outside"
if grep -q 'not found' <<<"$curl_listing"; then fail "a library of libcurl is missing: $curl_listing"; else ok; fi

# ---- running it ------------------------------------------------------------------
version="$(cd / && env -i "$x/lib/ld-linux-x86-64.so.2" --library-path "$x/lib" "$x/bin/cairn" --version 2>&1)"
if grep -q '^cairn [0-9]' <<<"$version"; then ok; else
  fail "bin/cairn --version through the bundled loader, env -i, cwd / (got: $version)"
fi
(cd "$work" && env -i "$x/lib/ld-linux-x86-64.so.2" --library-path "$x/lib" "$x/bin/cairn" validate "$x"/workflows/*.yaml >"$work/validate.out" 2>&1)
rc=$?
expect "bin/cairn validate of every bundled workflow, env -i (rc $rc: $(head -c 300 "$work/validate.out"))" test "$rc" -eq 0

# An http.request goes through libcurl: run through the bundled loader, the
# failure to reach a closed port must be libcurl's own ("Couldn't connect"),
# not a failure to load it.
mkdir -p "$work/home"
cat >"$work/probe.yaml" <<'EOF'
cairn: 1
name: curl-probe
steps:
  - name: call
    http.request:
      url: http://127.0.0.1:9/probe
      method: GET
EOF
out="$(cd "$work" && env -i HOME="$work/home" timeout 60 "$x/lib/ld-linux-x86-64.so.2" --library-path "$x/lib" "$x/bin/cairn" run probe.yaml 2>&1)"
if grep -q "Couldn't connect to server" <<<"$out" && ! grep -q 'cannot load libcurl' <<<"$out"; then ok; else
  fail "http.request through the bundled loader loads the bundled libcurl (got: $(head -c 400 <<<"$out"))"
fi

# In a root that holds only the package, nothing of the host can be used.
chroot_bin="$(command -v chroot || true)"
if [ -n "$chroot_bin" ] && "$chroot_bin" "$x" /lib/ld-linux-x86-64.so.2 --library-path /lib /bin/cairn --version >/dev/null 2>&1; then
  out="$(env -i "$chroot_bin" "$x" /lib/ld-linux-x86-64.so.2 --library-path /lib /bin/cairn validate /workflows/ecs-callback-dynamodb.yaml 2>&1)"
  rc=$?
  expect "cairn validate inside a root holding only the package (rc $rc: $out)" test "$rc" -eq 0
  ok
else
  echo "note: chroot is not permitted here (needs root); the package was not run in an empty root"
fi

# The bootstrap itself: empty environment, foreign working directory.
if "$binary" --help 2>/dev/null | grep -qE '^  lambda '; then
  out="$(cd "$work" && env -i "$x/bootstrap" --help 2>&1)"
  rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'cairn lambda' <<<"$out"; then ok; else
    fail "bootstrap --help runs \`cairn lambda --help\` (rc $rc: $(head -c 300 <<<"$out"))"
  fi
else
  out="$(cd "$work" && env -i LAMBDA_TASK_ROOT="$x" "$x/bootstrap" 2>&1)"
  rc=$?
  echo "note: this cairn has no \`lambda\` subcommand yet; bootstrap checked up to cairn's argument parsing"
  if [ "$rc" -ne 126 ] && [ "$rc" -ne 127 ] && ! grep -q 'error while loading' <<<"$out" &&
     grep -q 'Run with --help' <<<"$out"; then ok; else
    fail "bootstrap reaches cairn, not a loader error (rc $rc: $(head -c 300 <<<"$out"))"
  fi
fi

# The bootstrap handles one invocation against AWS's checkpoint server behind
# the real Runtime API and REST paths (the harness of tests/lambda).
node_bin="$(command -v node || true)"
if [ -z "$node_bin" ]; then
  echo "SKIP: bootstrap against the Lambda harness: node is missing (apt-get install nodejs)"
else
  "$node_bin" "$src/tests/lambda/lambda_test.mjs" "$binary" --package "$x" --only-package >"$work/harness.out" 2>&1
  rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "SKIP: bootstrap against the Lambda harness: $(grep SKIP "$work/harness.out" | head -1)"
  elif [ "$rc" -eq 0 ] && grep -q '^ok   package:' "$work/harness.out"; then
    ok
    grep '^ok   package:' "$work/harness.out"
  else
    fail "bootstrap handles an invocation from the harness (rc $rc): $(tail -c 800 "$work/harness.out")"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
