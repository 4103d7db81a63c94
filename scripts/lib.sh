# Shared shell helpers for Hydrate's local stack. Source it; do not run it.
#
# Layout (all git-ignored):
#   .dev/env              endpoints, sourceable by any shell
#   .dev/state/<name>/    data of one component (kept by `down`, wiped by `up --wipe`)
#   .dev/run/<name>.pid   pid of a process `up` started
#   .dev/logs/<name>.log  its output
# Downloads and builds shared between clones live in $HYDRATE_CACHE
# (default ~/.cache/hydrate): Kafka's jars, Go-built tools, the Python venv.

set -euo pipefail

HYDRATE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEV_DIR="$HYDRATE_ROOT/.dev"
STATE_DIR="$DEV_DIR/state"
RUN_DIR="$DEV_DIR/run"
LOG_DIR="$DEV_DIR/logs"
HYDRATE_CACHE="${HYDRATE_CACHE:-$HOME/.cache/hydrate}"
SHARED_DIR="${HYDRATE_SHARED:-$HYDRATE_ROOT/../shared}"
mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$HYDRATE_CACHE"

# Fixed loopback ports, away from the defaults so a system service on the
# usual port never collides with the stack. PostgreSQL is the exception: the
# reference demo's connector configs name `127.0.0.1:5432`, and they must work
# unchanged (HYDRATE_PG_PORT moves it; the demo then rewrites connection.url).
PG_PORT=${HYDRATE_PG_PORT:-5432}
ETCD_PORT=12379
ETCD_PEER_PORT=12380
KAFKA_PORT=19092          # PLAINTEXT
KAFKA_SASL_PORT=19093     # SASL_PLAINTEXT, SCRAM-SHA-512
KAFKA_CONTROLLER_PORT=19094
S3_PORT=19000
PROMETHEUS_PORT=19090
# Telemetry listeners (/metrics, /healthz, /readyz) of Hydrate's services.
CONTROL_PLANE_METRICS_PORT=19464
SOURCE_METRICS_PORT=19465
SINK_METRICS_PORT=19466
# Jaeger: OTLP in (gRPC, HTTP), the UI and query API.
JAEGER_OTLP_GRPC_PORT=14317
JAEGER_OTLP_HTTP_PORT=14318
JAEGER_QUERY_PORT=16686
JAEGER_QUERY_GRPC_PORT=16685
JAEGER_HEALTH_PORT=13133

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# is_running NAME: the pid file names a live process.
# A zombie (exited, not yet reaped by init) counts as stopped.
is_running() {
  local pidfile="$RUN_DIR/$1.pid" pid state
  [[ -f "$pidfile" ]] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]]
}

# start_bg NAME CMD...: start CMD detached in its own session, output to
# .dev/logs/NAME.log, pid to .dev/run/NAME.pid. No-op when already running.
start_bg() {
  local name=$1; shift
  if is_running "$name"; then
    log "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return 0
  fi
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN_DIR/$name.pid"
  log "$name started (pid $!, log .dev/logs/$name.log)"
}

# stop_pid NAME: stop the process group `start_bg` started, TERM then KILL.
stop_pid() {
  local name=$1 pidfile="$RUN_DIR/$1.pid" pid i
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile")
  if is_running "$name"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do is_running "$name" || break; sleep 0.1; done
    if is_running "$name"; then
      log "$name did not stop in 10 s, killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped"
  fi
  rm -f "$pidfile"
}

# wait_port NAME PORT [SECONDS]: wait until 127.0.0.1:PORT accepts connections,
# failing early with the log tail if the process died.
wait_port() {
  local name=$1 port=$2 secs=${3:-60} i
  for i in $(seq 1 $((secs * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if [[ -f "$RUN_DIR/$name.pid" ]] && ! is_running "$name"; then
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      die "$name exited before listening on $port"
    fi
    sleep 0.1
  done
  tail -n 30 "$LOG_DIR/$name.log" >&2 || true
  die "$name not listening on $port after ${secs}s"
}

# wait_until SECONDS DESCRIPTION CMD...: poll CMD until it succeeds.
wait_until() {
  local secs=$1 what=$2 i; shift 2
  for i in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "timed out after ${secs}s waiting for $what"
}

# need_cmd CMD: fail with a hint when a command is missing after install.
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 not found; run scripts/install-deps"; }

# require_free_port NAME PORT: fail when something already listens on PORT, so
# a stray process (say, one whose pid file was lost) is never taken for ours.
require_free_port() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
    die "$1: port $2 is already in use by a process scripts/up did not start"
  fi
}

# register_prometheus_target NAME PORT: have the stack's Prometheus scrape
# 127.0.0.1:PORT/metrics as job NAME (a file_sd target file it re-reads
# within seconds; no reload). NAME is the job the dashboards and alerts use:
# control-plane, source or sink.
register_prometheus_target() {
  local name=$1 port=$2 dir="$STATE_DIR/prometheus/targets"
  mkdir -p "$dir"
  printf '[{"targets": ["127.0.0.1:%s"], "labels": {"job": "%s"}}]\n' "$port" "$name" > "$dir/$name.json.tmp"
  mv "$dir/$name.json.tmp" "$dir/$name.json"
}

# unregister_prometheus_target NAME: stop scraping it (the service stopped).
unregister_prometheus_target() { rm -f "$STATE_DIR/prometheus/targets/$1.json"; }

# The local stack's components, each scripts/stack/<name>.sh, in start order;
# scripts/down stops them in reverse.
STACK_COMPONENTS=(postgres etcd kafka s3 prometheus jaeger control-plane source sink)

# export_otel SERVICE_NAME: the environment that has a Hydrate service send
# its traces to the stack's Jaeger (the standard OTEL_* variables).
export_otel() {
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_GRPC_PORT"
  export OTEL_SERVICE_NAME="$1"
}
