#!/usr/bin/env bash
# Hydrate's control plane on the local stack.
#
#   scripts/stack/control-plane.sh install   build it and hydratectl (cargo, debug)
#   scripts/stack/control-plane.sh start     start it (restarted when its binary
#                                            changed), wait until it serves
#   scripts/stack/control-plane.sh stop      stop it
#   scripts/stack/control-plane.sh env       print HYDRATE_ENDPOINT and the API tokens
#   scripts/stack/control-plane.sh wipe      forget the generated tokens
#
# API tokens are generated once into .dev/state/hydrate/tokens.env; the admin
# token goes to .dev/env as HYDRATE_TOKEN so hydratectl and grpcurl work.
source "$(dirname "$0")/../lib.sh"

HYDRATE_PORT=50051
HYDRATE_STATE="$STATE_DIR/control-plane"
TOKENS="$HYDRATE_STATE/tokens.env"
TARGET_DIR="${CARGO_TARGET_DIR:-$HYDRATE_ROOT/target}"
CONTROL_PLANE_BIN="$TARGET_DIR/debug/hydrate-control-plane"

cmd_install() {
  need_cmd cargo
  log "building the workspace binaries: control plane, services, hydratectl (cargo, first build takes minutes)"
  (cd "$HYDRATE_ROOT" && cargo build --locked -q --workspace --bins)
}

ensure_tokens() {
  [[ -s "$TOKENS" ]] && return 0
  mkdir -p "$HYDRATE_STATE"
  local t
  t() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  umask 077
  cat >"$TOKENS.tmp" <<EOT
HYDRATE_ADMIN_TOKENS=admin-$(t)
HYDRATE_VIEWER_TOKENS=viewer-$(t)
HYDRATE_WORKER_TOKENS=worker-$(t)
EOT
  mv "$TOKENS.tmp" "$TOKENS"
}

binary_stamp() { stat -c '%Y %s' "$CONTROL_PLANE_BIN"; }

cmd_start() {
  [[ -x "$CONTROL_PLANE_BIN" ]] || cmd_install
  ensure_tokens
  if is_running control-plane; then
    if [[ "$(cat "$RUN_DIR/control-plane.stamp" 2>/dev/null)" == "$(binary_stamp)" ]]; then
      log "control-plane already running (pid $(cat "$RUN_DIR/control-plane.pid"))"
      register_prometheus_target control-plane "$CONTROL_PLANE_METRICS_PORT"
      return 0
    fi
    log "control-plane binary changed: restarting"
    stop_pid control-plane
  fi
  require_free_port control-plane "$HYDRATE_PORT"
  # The tokens reach the process through its environment, never its argv
  # (visible in ps).
  set -a; . "$TOKENS"; set +a
  export_otel hydrate-control-plane
  HYDRATE_LISTEN="127.0.0.1:$HYDRATE_PORT" \
  ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT" \
  KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT" \
  HYDRATE_LEASE_TTL_SECONDS=10 \
  HYDRATE_METRICS_LISTEN="127.0.0.1:$CONTROL_PLANE_METRICS_PORT" \
    start_bg control-plane "$CONTROL_PLANE_BIN"
  binary_stamp > "$RUN_DIR/control-plane.stamp"
  wait_port control-plane "$HYDRATE_PORT" 60
  register_prometheus_target control-plane "$CONTROL_PLANE_METRICS_PORT"
}

cmd_stop() { stop_pid control-plane; unregister_prometheus_target control-plane; }

cmd_env() {
  ensure_tokens
  # shellcheck disable=SC1090
  . "$TOKENS"
  echo "HYDRATE_ENDPOINT=http://127.0.0.1:$HYDRATE_PORT"
  echo "HYDRATE_TOKEN=${HYDRATE_ADMIN_TOKENS}"
  echo "HYDRATE_VIEWER_TOKEN=${HYDRATE_VIEWER_TOKENS}"
  echo "HYDRATE_WORKER_TOKEN=${HYDRATE_WORKER_TOKENS}"
  echo "HYDRATECTL=$TARGET_DIR/debug/hydratectl"
  echo "HYDRATE_CONTROL_PLANE_METRICS_URL=http://127.0.0.1:$CONTROL_PLANE_METRICS_PORT/metrics"
}

cmd_wipe() {
  is_running control-plane && die "control-plane is running; stop it before wiping"
  rm -rf "$HYDRATE_STATE"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  wipe) cmd_wipe ;;
  *) echo "usage: $0 install|start|stop|env|wipe" >&2; exit 2 ;;
esac
