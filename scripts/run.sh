#!/usr/bin/env bash
# Runs web server, Celery worker and Celery beat in the foreground; Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
PY=.venv/bin/python
export DEBUG="${DEBUG:-1}"
mkdir -p var/log
# The demo collects statement statistics every minute so the Queries page fills quickly
# (production default: every 5 minutes).
export QUERIES_COLLECT_INTERVAL_SECONDS="${QUERIES_COLLECT_INTERVAL_SECONDS:-60}"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "Stopping web, worker and beat..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

# Local Neon API stand-in (tests/support/neon_standin/) behind the pagila-neon demo project.
NEON_STANDIN_PORT="${NEON_STANDIN_PORT:-$((PORT + 791))}"
$PY manage.py neon_demo prepare
NEON_STANDIN_DB_URL="$($PY manage.py neon_demo admin-url)" $PY -m tests.support.neon_standin \
  --port "$NEON_STANDIN_PORT" --project pagila-neon=pagila_neon --api-key-file var/neon-standin.key \
  --state-file var/neon-standin.json >var/log/neon-standin.log 2>&1 &
pids+=($!)
export NEON_API_BASE_URL="http://127.0.0.1:$NEON_STANDIN_PORT/api/v2/"
$PY manage.py neon_demo register || echo "pagila-neon not registered; see var/log/neon-standin.log"

.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule >var/log/beat.log 2>&1 &
pids+=($!)
$PY manage.py run_demo_workload >var/log/workload.log 2>&1 &
pids+=($!)
$PY manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)
sleep 2

echo
echo "Neon Ops dashboard: http://127.0.0.1:$PORT/"
cat var/demo-logins.txt 2>/dev/null || true
echo "Neon API stand-in (demo project pagila-neon): $NEON_API_BASE_URL"
echo "Logs: var/log/{worker,beat,workload,neon-standin}.log. Press Ctrl-C to stop everything."
wait -n "${pids[@]}"
