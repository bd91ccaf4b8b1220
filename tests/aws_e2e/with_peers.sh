#!/usr/bin/env bash
# Runs a command with the AWS peers of cairn's tests started on 127.0.0.1:
#   dynalite     (npm, tests/aws_e2e/node_modules: `npm ci` there)
#   moto_server  (Python moto 5.x on the machine image; not installable here)
# Each on a free port, in memory, stopped (by pid) when the command ends.
# Exports for the command:
#   CAIRN_E2E_DYNAMODB   http://127.0.0.1:PORT of dynalite  (unset when absent)
#   CAIRN_E2E_MOTO       http://127.0.0.1:PORT of moto      (unset when absent)
#   CAIRN_E2E_MISSING    what is missing and how to get it (for skip messages)
# Usage: with_peers.sh COMMAND [ARGS...]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
pids=()
logs=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$logs"
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_port PORT SECONDS: true once something accepts connections on PORT.
wait_port() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

missing=""
if ! command -v node >/dev/null 2>&1; then
  missing+="node is not installed (scripts/install-deps installs it); "
elif [ ! -x "$HERE/node_modules/.bin/dynalite" ]; then
  missing+="dynalite is not installed: run 'npm ci' in tests/aws_e2e (scripts/install-deps does); "
else
  port=$(free_port)
  "$HERE/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" --createTableMs 0 \
    --deleteTableMs 0 --updateTableMs 0 >"$logs/dynalite.log" 2>&1 &
  pids+=($!)
  if wait_port "$port" 20; then
    export CAIRN_E2E_DYNAMODB="http://127.0.0.1:$port"
  else
    missing+="dynalite did not start: $(tail -3 "$logs/dynalite.log"); "
  fi
fi

if ! command -v moto_server >/dev/null 2>&1; then
  missing+="moto_server is not on PATH (moto 5.x comes with the machine image; it cannot be installed from the registries this project uses); "
elif ! command -v node >/dev/null 2>&1; then
  :
else
  port=$(free_port)
  moto_server -H 127.0.0.1 -p "$port" >"$logs/moto.log" 2>&1 &
  pids+=($!)
  if wait_port "$port" 60; then
    export CAIRN_E2E_MOTO="http://127.0.0.1:$port"
  else
    missing+="moto_server did not start: $(tail -3 "$logs/moto.log"); "
  fi
fi
export CAIRN_E2E_MISSING="$missing"
[ -n "$missing" ] && echo "with_peers: $missing" >&2

"$@"
