# Shared by scripts/stack/source.sh and sink.sh: one Hydrate data-plane
# service (hydrate-source or hydrate-sink) on the local stack. Source it with
# SERVICE (source|sink) set; it reads the control plane's worker token, so
# control-plane.sh must have run first.
#
#   install   build the binary (cargo, debug)
#   start     start it (restarted when its binary changed), its /metrics
#             registered with the stack's Prometheus, its traces sent to Jaeger
#   stop      stop it
#   env       its metrics URL
#   wipe      delete its spool directory
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

BINARY="hydrate-$SERVICE"
TARGET_DIR="${CARGO_TARGET_DIR:-$HYDRATE_ROOT/target}"
SERVICE_BIN="$TARGET_DIR/debug/$BINARY"
SERVICE_STATE="$STATE_DIR/$SERVICE"
TOKENS="$STATE_DIR/control-plane/tokens.env"
case "$SERVICE" in
  source) METRICS_PORT=$SOURCE_METRICS_PORT ;;
  sink) METRICS_PORT=$SINK_METRICS_PORT ;;
  *) die "service.sh: SERVICE must be source or sink" ;;
esac

cmd_install() {
  need_cmd cargo
  log "building $BINARY (cargo)"
  (cd "$HYDRATE_ROOT" && cargo build --locked -q --workspace --bins)
}

binary_stamp() { stat -c '%Y %s' "$SERVICE_BIN"; }

cmd_start() {
  [[ -x "$SERVICE_BIN" ]] || cmd_install
  [[ -s "$TOKENS" ]] || die "$SERVICE: no worker token yet; start the control plane first"
  if is_running "$SERVICE"; then
    if [[ "$(cat "$RUN_DIR/$SERVICE.stamp" 2>/dev/null)" == "$(binary_stamp)" ]]; then
      log "$SERVICE already running (pid $(cat "$RUN_DIR/$SERVICE.pid"))"
      register_prometheus_target "$SERVICE" "$METRICS_PORT"
      return 0
    fi
    log "$SERVICE binary changed: restarting"
    stop_pid "$SERVICE"
  fi
  mkdir -p "$SERVICE_STATE/spool"
  # The worker token reaches the process through its environment, never argv.
  # The S3 settings are the local store's, as the AWS SDKs read them.
  (
    # shellcheck disable=SC1090
    . "$TOKENS"
    export HYDRATE_WORKER_TOKEN=$HYDRATE_WORKER_TOKENS
    export HYDRATE_ENDPOINT="http://127.0.0.1:50051"
    export HYDRATE_WORKER_ID="local-$SERVICE-1"
    export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
    export HYDRATE_SPOOL_DIR="$SERVICE_STATE/spool"
    export HYDRATE_METRICS_LISTEN="127.0.0.1:$METRICS_PORT"
    export_otel "hydrate-$SERVICE"
    # shellcheck disable=SC1090
    set -a; . <(bash "$HYDRATE_ROOT/scripts/stack/s3.sh" env); set +a
    start_bg "$SERVICE" "$SERVICE_BIN"
  )
  binary_stamp > "$RUN_DIR/$SERVICE.stamp"
  # A service that cannot start (bad config, no control plane) exits at once.
  sleep 1
  is_running "$SERVICE" || { tail -n 30 "$LOG_DIR/$SERVICE.log" >&2; die "$SERVICE exited at start"; }
  register_prometheus_target "$SERVICE" "$METRICS_PORT"
}

cmd_stop() { stop_pid "$SERVICE"; unregister_prometheus_target "$SERVICE"; }
cmd_env() {
  local upper
  upper=$(tr '[:lower:]' '[:upper:]' <<< "$SERVICE")
  echo "HYDRATE_${upper}_METRICS_URL=http://127.0.0.1:$METRICS_PORT/metrics"
}
cmd_wipe() {
  is_running "$SERVICE" && die "$SERVICE is running; stop it before wiping"
  rm -rf "$SERVICE_STATE"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  wipe) cmd_wipe ;;
  *) echo "usage: $0 install|start|stop|env|wipe" >&2; exit 2 ;;
esac
