#!/usr/bin/env bash
# Measures cairn beside its peers (bench/README.md, "peers"): installs what
# it needs (Debian: PostgreSQL, gnuplot, eatmydata; npm: the peers' packages
# pinned in package-lock.json), builds cairn with the release preset unless
# --cairn PATH is given, then runs run.mjs, which starts every system
# privately on 127.0.0.1, measures, stops what it started and writes the
# table to results/peers.json and results/peers.png.
#
#   bench/peers/run.sh [--quick] [--cairn PATH] [--only floor,cairn,cairn-nofsync,dbos,restate,aws] [--out DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

cairn=""
args=()
while (($#)); do
  case "$1" in
    --cairn) cairn="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

# ---- Debian packages (only what is missing) ----
missing=()
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
command -v eatmydata >/dev/null || missing+=(eatmydata)
command -v node >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "peers: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- npm packages (the peers) ----
if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
  echo "peers: npm ci in bench/peers" >&2
  (cd "$here" && SCARF_ANALYTICS=false npm ci --no-audit --no-fund --loglevel=error)
  touch "$here/node_modules"
fi

# ---- cairn ----
if [ -z "$cairn" ]; then
  cairn="$root/build/release/interpreter/cli/cairn"
  echo "peers: building cairn (release preset)" >&2
  (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release --target cairn -j2 >/dev/null)
fi

exec node "$here/run.mjs" --cairn "$cairn" "${args[@]}"
