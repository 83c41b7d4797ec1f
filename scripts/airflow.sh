#!/usr/bin/env bash
# `make airflow`: what `airflow standalone` starts (api-server, scheduler, dag-processor,
# triggerer; LocalExecutor, simple auth manager with one `admin`), every server on 127.0.0.1.
# Standalone's log servers (ports 8793/8794) listen on 0.0.0.0 and Airflow has no bind setting for
# them: they only serve task logs to another machine, so the scheduler and the triggerer run with
# --skip-serve-logs and the UI reads the logs from AIRFLOW_HOME/logs. Ctrl-C stops them all.
#
#   UI and REST API  http://127.0.0.1:${AIRFLOW_PORT:-8080}   user admin, password printed
#
# AIRFLOW_HOME (default orchestration/.airflow) holds the SQLite metadata DB, airflow.cfg, the
# generated password and each component's log (<component>.log). The DAGs are airflow_dags/,
# run with the project as working directory.
set -euo pipefail
cd "$(dirname "$0")/.."

AIRFLOW=${AIRFLOW_BIN:-orchestration/.venv/bin}/airflow
PORT=${AIRFLOW_PORT:-8080}
URL=http://127.0.0.1:$PORT
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/orchestration/.airflow}
export AIRFLOW__CORE__DAGS_FOLDER=${AIRFLOW__CORE__DAGS_FOLDER:-$PWD/airflow_dags}
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$PORT
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=$URL/execution/
export RPS_KEDRO_PROJECT_PATH=$PWD
PATH="$(dirname "$AIRFLOW"):$PATH"
PASSWORDS=$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated

if [[ ! -x "$AIRFLOW" ]]; then
  echo "Airflow is not installed in $(dirname "$AIRFLOW"): make airflow-setup" >&2
  exit 1
fi
mkdir -p "$AIRFLOW_HOME"
echo "airflow db migrate (AIRFLOW_HOME=$AIRFLOW_HOME)"
"$AIRFLOW" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 ||
  { echo "airflow db migrate failed; see $AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }

PY=$(dirname "$AIRFLOW")/python
# Each component in its own process group (job control): Ctrl-C reaches only this script, which
# stops every group (the api-server's workers and the executor's task processes included).
set -m
pids=()
alive() {
  local pid
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
signal_groups() {
  local pid
  for pid in "${pids[@]}"; do kill "-$1" -- "-$pid" 2>/dev/null || true; done
}
stop() {
  trap - EXIT INT TERM
  signal_groups TERM
  local deadline=$((SECONDS + 30))  # a graceful exit, then SIGKILL
  while alive && ((SECONDS < deadline)); do sleep 0.2; done
  signal_groups KILL
  wait 2>/dev/null || true
}
on_signal() { echo "stopping Airflow"; stop; exit 0; }
trap stop EXIT
trap on_signal INT TERM

start() {  # component, then its arguments
  "$AIRFLOW" "$@" >"$AIRFLOW_HOME/$1.log" 2>&1 &
  pids+=($!)
}
start api-server --host 127.0.0.1 --port "$PORT"
start scheduler --skip-serve-logs
start dag-processor
start triggerer --skip-serve-logs

answers() { "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null; }
deadline=$((SECONDS + 300))  # a busy 2-core machine takes minutes
until answers "$URL/api/v2/monitor/health"; do
  if ((SECONDS > deadline)) || ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "the api-server did not answer at $URL; see $AIRFLOW_HOME/api-server.log" >&2
    exit 1
  fi
  sleep 0.5
done
password=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORDS")
echo "Airflow ready: $URL  user admin, password $password (kept in $PASSWORDS)"
echo "logs in $AIRFLOW_HOME/<component>.log; Ctrl-C stops everything"
# Until one of them exits (or Ctrl-C); then stop the others.
wait -n "${pids[@]}" || true
echo "an Airflow component exited; stopping the others (logs in $AIRFLOW_HOME/)" >&2
exit 1
