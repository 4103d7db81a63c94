#!/usr/bin/env bash
# etcd 3.4 from Debian, a single member holding the control plane's state
# (connector configs, leases, offsets) under .dev/state/etcd.
#
# Usage: scripts/stack/etcd.sh install|start|stop|env|wipe
source "$(dirname "$0")/../lib.sh"

ETCD_STATE="$STATE_DIR/etcd"
ETCD_CLIENT_URL="http://127.0.0.1:$ETCD_PORT"
ETCD_PEER_URL="http://127.0.0.1:$ETCD_PEER_PORT"

etcdctl3() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_CLIENT_URL" --dial-timeout=2s "$@"; }

cmd_install() { need_cmd etcd; need_cmd etcdctl; }

cmd_start() {
  if is_running etcd; then
    log "etcd already running (pid $(cat "$RUN_DIR/etcd.pid"))"
  else
    require_free_port etcd "$ETCD_PORT"
    require_free_port etcd "$ETCD_PEER_PORT"
    # etcd warns about a data dir others can read.
    mkdir -p "$ETCD_STATE" && chmod 700 "$ETCD_STATE"
    # --initial-cluster-state new only matters on the first start; later
    # starts find the member in the data dir and ignore the initial flags.
    start_bg etcd etcd \
      --name hydrate-dev \
      --data-dir "$ETCD_STATE" \
      --listen-client-urls "$ETCD_CLIENT_URL" \
      --advertise-client-urls "$ETCD_CLIENT_URL" \
      --listen-peer-urls "$ETCD_PEER_URL" \
      --initial-advertise-peer-urls "$ETCD_PEER_URL" \
      --initial-cluster "hydrate-dev=$ETCD_PEER_URL" \
      --initial-cluster-token hydrate-dev \
      --initial-cluster-state new \
      --logger zap --log-outputs stderr
  fi
  wait_port etcd "$ETCD_PORT" 60
  # The port opens before the member has elected itself leader.
  wait_until 60 "etcd to report healthy" etcdctl3 endpoint health
}

cmd_stop() { stop_pid etcd; }

cmd_env() { echo "ETCD_ENDPOINTS=$ETCD_CLIENT_URL"; }

cmd_wipe() {
  ! is_running etcd || die "etcd is running; stop it first"
  rm -rf "$ETCD_STATE"
  log "etcd state wiped"
}

case "${1:-}" in
  install|start|stop|env|wipe) "cmd_$1" ;;
  *) echo "usage: $0 install|start|stop|env|wipe" >&2; exit 2 ;;
esac
