#!/usr/bin/env bash
# PostgreSQL 15 from Debian as the stack's source database: a cluster of our
# own under .dev/state/postgres (never the system's), logical WAL, and the
# `pagila` database loaded once, owned by the application role `hydrate`.
#
# Usage: scripts/stack/postgres.sh install|start|stop|env|wipe|reload-pagila
#   reload-pagila: drop pagila and load it again as shipped (scripts/demo reset)
source "$(dirname "$0")/../lib.sh"

PG_BIN=/usr/lib/postgresql/15/bin
PG_STATE="$STATE_DIR/postgres"
PG_DATA="$PG_STATE/data"
PG_SOCKET_DIR="$PG_STATE/socket"
# Written only after pagila loaded and checked out; without it, start redoes
# the whole load from an empty database.
PAGILA_MARKER="$PG_STATE/pagila.loaded"
PAGILA_DIR="$SHARED_DIR/datasets/pagila"
LOAD_LOG="$LOG_DIR/postgres-pagila.log"

APP_USER=hydrate APP_PASSWORD=hydrate-secret APP_DB=pagila
ADMIN_USER=postgres ADMIN_PASSWORD=postgres-admin

# The server refuses to run as root, so it runs as the Debian package's
# `postgres` system user. setpriv execs instead of forking a wrapper (runuser
# stays as a parent), so the pid start_bg records is the postmaster itself.
AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env --)

# Settings on the command line rather than in postgresql.conf, so an existing
# cluster picks up changes to this script on its next start.
SERVER_ARGS=(
  -D "$PG_DATA"
  -c listen_addresses=127.0.0.1
  -c "port=$PG_PORT"
  -c "unix_socket_directories=$PG_SOCKET_DIR"
  -c wal_level=logical             # for log-based CDC (pgoutput)
  -c max_wal_senders=20            # room for parallel tests' replication
  -c max_replication_slots=20
  -c max_connections=200           # services plus parallel tests
  -c password_encryption=scram-sha-256
  -c timezone=UTC -c log_timezone=UTC
)

admin_psql() {
  PGPASSWORD=$ADMIN_PASSWORD "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$ADMIN_USER" "$@"
}
app_psql() {
  PGPASSWORD=$APP_PASSWORD "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$APP_USER" -d "$APP_DB" "$@"
}

cmd_install() {
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/psql" ]] \
    || die "PostgreSQL 15 not found in $PG_BIN; run scripts/install-deps"
  need_cmd setpriv
}

# The postgres user must be able to reach its data directory, which needs the
# search (x) bit on every ancestor; a clone under a 0700 home lacks it.
# Checked from the root down, as postgres sees nothing below a closed directory.
ensure_traversable() {
  local dir="" part parts
  IFS=/ read -ra parts <<< "${1#/}"
  for part in "${parts[@]}"; do
    dir+="/$part"
    if ! "${AS_POSTGRES[@]}" test -x "$dir"; then
      log "postgres: adding o+x to $dir so the postgres user can reach its data"
      chmod o+x "$dir"
    fi
  done
}

init_cluster() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
  log "postgres: creating a cluster in $PG_DATA"
  # Anything here without a cluster is debris of an interrupted init.
  rm -rf "$PG_STATE"
  mkdir -p "$PG_STATE" "$PG_SOCKET_DIR" "$PG_DATA.init"
  chmod 755 "$PG_STATE"
  chown postgres: "$PG_SOCKET_DIR" "$PG_DATA.init"
  chmod 700 "$PG_DATA.init"
  ensure_traversable "$PG_STATE"
  # The superuser gets a password so tests can create schemas and roles over
  # TCP; the unix socket keeps peer auth for `runuser -u postgres -- psql`.
  # --no-sync saves seconds per fresh stack; a machine crash right after it
  # could leave a broken cluster, which `scripts/up --wipe` replaces.
  local pwfile="$PG_STATE/.pwfile"
  ( umask 077 && printf '%s\n' "$ADMIN_PASSWORD" > "$pwfile" )
  chown postgres: "$pwfile"
  "${AS_POSTGRES[@]}" "$PG_BIN/initdb" -D "$PG_DATA.init" -U "$ADMIN_USER" \
    --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 --no-sync \
    --auth-local=peer --auth-host=scram-sha-256 >>"$LOG_DIR/postgres.log" 2>&1 \
    || { rm -f "$pwfile"; tail -n 20 "$LOG_DIR/postgres.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
  # Renamed only when complete, so a half-made cluster is never started.
  mv "$PG_DATA.init" "$PG_DATA"
}

# Pagila as shipped, made loadable by `hydrate` on PostgreSQL 15: the dump hands
# every object to `postgres`, which hydrate may not do (so hydrate, the
# creator, stays owner), and two statements need PostgreSQL 17: the
# transaction_timeout setting and the JSON_TABLE view films_per_customer_rental.
# Everything left must then load without a single error.
pagila_schema_for_pg15() {
  sed -e '/^ALTER .* OWNER TO postgres;$/d' \
      -e '/^SET transaction_timeout = /d' \
      -e '/^CREATE VIEW public\.films_per_customer_rental AS/,/;$/d' \
      "$PAGILA_DIR/pagila-schema.sql"
}

load_pagila() {
  log "postgres: creating role $APP_USER and loading pagila (once; log ${LOAD_LOG#"$HYDRATE_ROOT"/})"
  : > "$LOAD_LOG"
  admin_psql -d postgres -v ON_ERROR_STOP=1 >>"$LOAD_LOG" 2>&1 <<SQL || { cat "$LOAD_LOG" >&2; die "postgres: creating role/database failed"; }
SELECT 'CREATE ROLE $APP_USER' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_USER') \gexec
ALTER ROLE $APP_USER LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
-- Hydrate's source reads pg_stat_activity.xact_start of other roles' sessions.
GRANT pg_read_all_stats TO $APP_USER;
-- Always from an empty database, so a load interrupted half-way is redone whole.
DROP DATABASE IF EXISTS $APP_DB WITH (FORCE);
CREATE DATABASE $APP_DB OWNER $APP_USER;
SQL

  pagila_schema_for_pg15 | app_psql -v ON_ERROR_STOP=1 --single-transaction -f - >>"$LOAD_LOG" 2>&1 \
    || { tail -n 20 "$LOAD_LOG" >&2; die "postgres: loading pagila-schema.sql failed"; }
  # The data goes in as superuser: the dump wraps each table's COPY in ALTER
  # TABLE ... DISABLE TRIGGER ALL (store and staff reference each other), and
  # disabling foreign-key triggers takes a superuser. Rows have no owner, so
  # the result is the same as loading them as hydrate.
  admin_psql -d "$APP_DB" -v ON_ERROR_STOP=1 --single-transaction -f "$PAGILA_DIR/pagila-data.sql" >>"$LOAD_LOG" 2>&1 \
    || { tail -n 20 "$LOAD_LOG" >&2; die "postgres: loading pagila-data.sql failed"; }

  local counts
  counts=$(app_psql -At -c "SELECT (SELECT count(*) FROM public.address) || ' ' ||
                                   (SELECT count(*) FROM public.city) || ' ' ||
                                   (SELECT count(*) FROM public.country)")
  [[ "$counts" == "603 600 109" ]] \
    || die "postgres: pagila has address/city/country rows '$counts', expected '603 600 109'"
  touch "$PAGILA_MARKER"
  log "postgres: pagila loaded (address/city/country: $counts)"
}

cmd_start() {
  if is_running postgres; then
    log "postgres already running (pid $(cat "$RUN_DIR/postgres.pid"))"
  else
    require_free_port postgres "$PG_PORT"
    # A unix socket path is limited to 107 bytes; say so rather than let the
    # server fail with "could not create any Unix-domain sockets".
    (( ${#PG_SOCKET_DIR} + 16 <= 107 )) || die "postgres: socket path $PG_SOCKET_DIR is too long for a unix socket; use a shorter clone path"
    init_cluster
    start_bg postgres "${AS_POSTGRES[@]}" "$PG_BIN/postgres" "${SERVER_ARGS[@]}"
  fi
  wait_port postgres "$PG_PORT" 60
  # The port opens before recovery ends; pg_isready waits for real service.
  wait_until 60 "postgres to accept connections" "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  [[ -f "$PAGILA_MARKER" ]] || load_pagila
}

cmd_stop() {
  local i
  if is_running postgres; then
    # SIGINT is PostgreSQL's fast shutdown (roll back, disconnect clients).
    # stop_pid's SIGTERM means smart shutdown, which waits for every client to
    # leave by itself, so a connected service would hold it to the KILL.
    kill -INT "$(cat "$RUN_DIR/postgres.pid")"
    for i in $(seq 1 300); do is_running postgres || break; sleep 0.1; done
  fi
  stop_pid postgres
}

cmd_env() {
  cat <<EOF
PG_URL=postgresql://$APP_USER:$APP_PASSWORD@127.0.0.1:$PG_PORT/$APP_DB
PG_ADMIN_URL=postgresql://$ADMIN_USER:$ADMIN_PASSWORD@127.0.0.1:$PG_PORT/$APP_DB
PGHOST=127.0.0.1
PGPORT=$PG_PORT
PGUSER=$APP_USER
PGPASSWORD=$APP_PASSWORD
PGDATABASE=$APP_DB
EOF
}

cmd_wipe() {
  ! is_running postgres || die "postgres is running; stop it first"
  rm -rf "$PG_STATE"
  log "postgres state wiped"
}

cmd_reload-pagila() {
  is_running postgres || die "postgres is not running; scripts/up starts it"
  rm -f "$PAGILA_MARKER"
  load_pagila
}

case "${1:-}" in
  install|start|stop|env|wipe|reload-pagila) "cmd_$1" ;;
  *) echo "usage: $0 install|start|stop|env|wipe|reload-pagila" >&2; exit 2 ;;
esac
