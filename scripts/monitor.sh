#!/usr/bin/env bash
# `make monitor`: Prometheus, Alertmanager, the Pushgateway and the alert receiver on 127.0.0.1, in
# the foreground, against the service of `make serve` (127.0.0.1:3000). Ctrl-C stops them all.
#
#   Prometheus    http://127.0.0.1:9090   monitoring/prometheus.yml + monitoring/rules/
#   Alertmanager  http://127.0.0.1:9093   monitoring/alertmanager.yml
#   Pushgateway   http://127.0.0.1:9091   live scoring pushes its metrics here (RPS_PUSHGATEWAY_URL)
#   receiver      http://127.0.0.1:9095   alerts appended to data/08_reporting/alerts/alerts.jsonl
#
# Data and logs in data/08_reporting/monitoring/. MONITOR_RECEIVER=0 skips the receiver (when
# `make alert-receiver` runs it elsewhere). Binaries: Debian's prometheus, prometheus-alertmanager
# and prometheus-pushgateway packages (or upstream builds on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${MONITOR_PYTHON:-.venv/bin/python}  # not $PYTHON: the Makefile uses that for python3
STATE=data/08_reporting/monitoring
ALERTS=data/08_reporting/alerts/alerts.jsonl

find_binary() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}
PROMETHEUS=$(find_binary prometheus) || missing=1
ALERTMANAGER=$(find_binary prometheus-alertmanager alertmanager) || missing=1
PUSHGATEWAY=$(find_binary prometheus-pushgateway pushgateway) || missing=1
if [[ -n "${missing:-}" ]]; then
  echo "prometheus, alertmanager and the pushgateway are needed:" \
    "apt-get install prometheus prometheus-alertmanager prometheus-pushgateway" >&2
  exit 1
fi

ports=(9090 9091 9093)
[[ "${MONITOR_RECEIVER:-1}" != 0 ]] && ports+=(9095)
for port in "${ports[@]}"; do
  if "$PYTHON" -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$port" 2>/dev/null; then
    echo "port $port is in use (Debian's own prometheus / alertmanager / pushgateway services?" \
      "systemctl disable --now prometheus prometheus-alertmanager prometheus-pushgateway)" >&2
    exit 1
  fi
done

mkdir -p "$STATE/prometheus" "$STATE/alertmanager" "$(dirname "$ALERTS")"
pids=()
stop() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
on_signal() { stop; exit 0; }
trap stop EXIT
trap on_signal INT TERM

wait_ready() {  # name url
  local _
  for _ in $(seq 1 100); do
    if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$2" 2>/dev/null; then
      echo "$1 ready: ${2%/-/ready}"
      return 0
    fi
    sleep 0.2
  done
  echo "$1 did not start; see $STATE/$1.log" >&2
  return 1
}

if [[ "${MONITOR_RECEIVER:-1}" != 0 ]]; then
  "$PYTHON" -m tools.alert_receiver --host 127.0.0.1 --port 9095 \
    --output "$ALERTS" >"$STATE/alert-receiver.log" 2>&1 &
  pids+=($!)
  wait_ready alert-receiver http://127.0.0.1:9095/healthz
fi

"$ALERTMANAGER" --config.file=monitoring/alertmanager.yml \
  --storage.path="$STATE/alertmanager" \
  --web.listen-address=127.0.0.1:9093 --web.external-url=http://127.0.0.1:9093 \
  --cluster.listen-address= >"$STATE/alertmanager.log" 2>&1 &
pids+=($!)
wait_ready alertmanager http://127.0.0.1:9093/-/ready

"$PUSHGATEWAY" --web.listen-address=127.0.0.1:9091 \
  --persistence.file="$STATE/pushgateway.data" >"$STATE/pushgateway.log" 2>&1 &
pids+=($!)
wait_ready pushgateway http://127.0.0.1:9091/-/ready

"$PROMETHEUS" --config.file=monitoring/prometheus.yml \
  --storage.tsdb.path="$STATE/prometheus" \
  --web.listen-address=127.0.0.1:9090 --web.external-url=http://127.0.0.1:9090 \
  --web.enable-lifecycle >"$STATE/prometheus.log" 2>&1 &
pids+=($!)
wait_ready prometheus http://127.0.0.1:9090/-/ready

echo "scraping the service at 127.0.0.1:3000 (make serve); alerts go to $ALERTS"
echo "logs in $STATE/; Ctrl-C stops everything"
# Until one of them exits (or Ctrl-C); then stop the others.
wait -n "${pids[@]}" || true
echo "a monitoring process exited; stopping the others (logs in $STATE/)" >&2
exit 1
