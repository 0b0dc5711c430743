#!/usr/bin/env bash
# Start N Streamlit replicas of the app on 127.0.0.1 ports 8601.., all on one data folder, for nginx
# (deploy/nginx_site.py) to spread browsers over.
#
#   deploy/start_replicas.sh N            start N replicas in the background, wait until each is healthy
#   deploy/start_replicas.sh -f N         the same in the foreground: Ctrl-C / SIGTERM stops them all
#   deploy/start_replicas.sh stop         stop the replicas started on this data folder
#
# What the replicas share (FER_DATA, default <checkout>/var): models/ (FER_MODELS_DIR; seeded with the
# shipped models the first time), captures/ (FER_CAPTURE_ROOT), owners/ (FER_OWNER_ROOT) and one cookie
# secret (a browser moved to another replica keeps its login). What each holds alone: its sessions (in
# memory: that is why nginx keeps a browser on one replica), its own copy of TensorFlow and the models
# in use (about 0.8 GB with the default model), its live streams and its own FER_MAX_LIVE_SESSIONS count.
#
# Environment: FER_DATA, FER_PORT_BASE (8601), FER_BIND (127.0.0.1), FER_PYTHON (<checkout>/.venv/bin/python),
# FER_HEALTH_TIMEOUT (seconds to wait for each replica, 180), and any FER_* setting, passed on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${FER_DATA:-$ROOT/var}"
PORT_BASE="${FER_PORT_BASE:-8601}"
BIND="${FER_BIND:-127.0.0.1}"
PY="${FER_PYTHON:-$ROOT/.venv/bin/python}"
HEALTH_TIMEOUT="${FER_HEALTH_TIMEOUT:-180}"
RUN="$DATA/run"
LOGS="$DATA/logs"

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

stop_all() {
  local pidfile pid
  shopt -s nullglob
  for pidfile in "$RUN"/replica-*.pid; do
    pid="$(cat "$pidfile")"
    # each replica leads its own process group (setsid): TERM the group, then KILL what is left
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      echo "stopped replica $(basename "$pidfile" .pid) (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

# os.setsid, then streamlit (an interactive shell's job is a group leader already: then it stays one)
LEADER='import os, sys
try:
    os.setsid()
except PermissionError:
    pass
os.execv(sys.executable, [sys.executable, "-m", "streamlit", *sys.argv[1:]])'

healthy() { "$PY" "$ROOT/deploy/wait_healthy.py" "$1" 0; }

foreground=0
case "${1:-}" in
  stop) stop_all; exit 0 ;;
  -f|--foreground) foreground=1; shift ;;
  ""|-h|--help) usage ;;
esac
N="${1:-}"
[[ "$N" =~ ^[1-9][0-9]?$ ]] || usage

mkdir -p "$RUN" "$LOGS" "$DATA/models" "$DATA/captures" "$DATA/owners"
for shipped in "$ROOT"/models/*/; do  # the shipped models, once; models trained later stay
  name="$(basename "$shipped")"
  [ -e "$DATA/models/$name" ] || cp -r "$shipped" "$DATA/models/$name"
done
if [ ! -s "$DATA/cookie_secret" ]; then
  (umask 077; "$PY" -c 'import secrets; print(secrets.token_hex(32))' > "$DATA/cookie_secret")
fi

export FER_MODELS_DIR="${FER_MODELS_DIR:-$DATA/models}"
export FER_CAPTURE_ROOT="${FER_CAPTURE_ROOT:-$DATA/captures}"
export FER_OWNER_ROOT="${FER_OWNER_ROOT:-$DATA/owners}"
STREAMLIT_SERVER_COOKIE_SECRET="$(cat "$DATA/cookie_secret")"
export STREAMLIT_SERVER_COOKIE_SECRET
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" PYTHONUNBUFFERED=1

cd "$ROOT"
ports=()
for k in $(seq 0 $((N - 1))); do
  port=$((PORT_BASE + k))
  pidfile="$RUN/replica-$port.pid"
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "replica $port already runs (pid $(cat "$pidfile"))"; ports+=("$port"); continue
  fi
  # its own process group (stop_all signals the group: Streamlit and any training job it started)
  "$PY" -c "$LEADER" run streamlit_app.py \
    --server.port "$port" --server.address "$BIND" --server.headless true \
    --server.fileWatcherType none --server.runOnSave false --browser.gatherUsageStats false \
    </dev/null >"$LOGS/replica-$port.log" 2>&1 &
  echo $! > "$pidfile"
  ports+=("$port")
  echo "replica $port starting (pid $!, log $LOGS/replica-$port.log)"
done
trap 'stop_all; exit 1' INT TERM  # interrupted or failed while starting: stop what started
trap 'stop_all' EXIT

deadline=$((SECONDS + HEALTH_TIMEOUT))
for port in "${ports[@]}"; do
  until healthy "$BIND:$port"; do
    if ! kill -0 "$(cat "$RUN/replica-$port.pid")" 2>/dev/null; then
      echo "replica $port exited; its log:" >&2; tail -20 "$LOGS/replica-$port.log" >&2; exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then echo "replica $port not healthy after ${HEALTH_TIMEOUT}s" >&2; exit 1; fi
    sleep 0.5
  done
  echo "replica $port healthy: http://$BIND:$port"
done
echo "models: $FER_MODELS_DIR  captures: $FER_CAPTURE_ROOT  owners: $FER_OWNER_ROOT"

if [ "$foreground" = 0 ]; then
  trap - EXIT INT TERM  # started: they run on; "deploy/start_replicas.sh stop" stops them
  exit 0
fi
trap 'stop_all; exit 0' INT TERM
echo "running in the foreground; Ctrl-C stops every replica"
declare -A gone=()
while true; do
  for port in "${ports[@]}"; do
    if [ -z "${gone[$port]:-}" ] && ! kill -0 "$(cat "$RUN/replica-$port.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
      echo "replica $port is not running any more"; gone[$port]=1
    fi
  done
  sleep 2 & wait $!
done
