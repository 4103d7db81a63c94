#!/usr/bin/env bash
# Local S3-compatible object store for the stack and the tests: S3Proxy with
# its filesystem backend, on 127.0.0.1:$S3_PORT.
#
#   scripts/stack/s3.sh install   fetch S3Proxy's jar into $HYDRATE_CACHE (once)
#   scripts/stack/s3.sh start     start it (no-op when running), wait until it
#                                 serves signed requests, create the bucket
#   scripts/stack/s3.sh stop      stop it
#   scripts/stack/s3.sh env       print the client settings (KEY=value lines)
#   scripts/stack/s3.sh wipe      delete its data (only when stopped)
#
# Why S3Proxy: it checks SigV4 signatures, does multipart upload, ListObjectsV2
# with delimiters and If-None-Match: * on PutObject and CompleteMultipartUpload
# (412), and pyarrow and DuckDB work against it; tests/python/s3_store_check.py
# checks all of that against the running store. It is a single jar from Maven
# Central and runs on the machine's Java 17. Objects are plain files under
# .dev/state/s3/data/<bucket>/<key>.
source "$(dirname "$0")/../lib.sh"

NAME=s3
S3PROXY_VERSION=4.1.0
S3PROXY_ARTIFACT="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies"
S3PROXY_DIR="$HYDRATE_CACHE/s3proxy"
S3PROXY_JAR="$S3PROXY_DIR/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
MVN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

S3_STATE="$STATE_DIR/$NAME"
S3_DATA="$S3_STATE/data"
S3_CONF="$S3_STATE/s3proxy.conf"

S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
S3_ACCESS_KEY=hydrate
S3_SECRET_KEY=hydrate-secret-key
S3_REGION=us-east-1
S3_BUCKET=pagila-lake

# SHA-256 of the empty body, for curl's SigV4 signing (curl 7.88 does not add
# x-amz-content-sha256 by itself, and S3Proxy wants it).
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    echo "$JAVA_HOME/bin/java"
  else
    need_cmd java
    command -v java
  fi
}

check_java() {
  local java major
  java=$(java_bin)
  major=$("$java" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
  [[ -n "$major" && "$major" -ge 17 ]] ||
    die "S3Proxy $S3PROXY_VERSION needs Java 17 or newer; $java is ${major:-unknown}"
}

cmd_install() {
  if [[ -s "$S3PROXY_JAR" ]]; then
    log "S3Proxy $S3PROXY_VERSION present ($S3PROXY_JAR)"
    return 0
  fi
  need_cmd mvn
  check_java
  mkdir -p "$S3PROXY_DIR"
  local tmp
  tmp=$(mktemp -d "$S3PROXY_DIR/.download.XXXXXX")
  log "fetching S3Proxy $S3PROXY_VERSION from Maven Central"
  # --strict-checksums: refuse a download whose checksum does not match.
  if ! mvn -B -q --strict-checksums "$MVN_DEPENDENCY_PLUGIN:copy" \
      -Dartifact="$S3PROXY_ARTIFACT" -DoutputDirectory="$tmp" \
      >"$tmp/mvn.log" 2>&1; then
    tail -n 30 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "could not fetch $S3PROXY_ARTIFACT"
  fi
  if [[ ! -s "$tmp/${S3PROXY_JAR##*/}" ]]; then
    rm -rf "$tmp"
    die "maven did not produce ${S3PROXY_JAR##*/}"
  fi
  # Rename into place: another clone sharing the cache never sees half a jar.
  mv -f "$tmp/${S3PROXY_JAR##*/}" "$S3PROXY_JAR"
  rm -rf "$tmp"
  log "S3Proxy $S3PROXY_VERSION installed in $S3PROXY_DIR"
}

# s3_curl ARGS...: curl signed with the stack's key (SigV4), printing the
# HTTP status only.
s3_curl() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$@"
}

# Serving: a signed ListBuckets answers 200 (not merely an open port).
serves_signed() { [[ $(s3_curl "$S3_ENDPOINT/") == 200 ]]; }

ensure_bucket() {
  local status
  status=$(s3_curl -I "$S3_ENDPOINT/$S3_BUCKET")
  case "$status" in
    200) return 0 ;;
    404) ;;
    *) die "HEAD bucket $S3_BUCKET answered $status" ;;
  esac
  status=$(s3_curl -X PUT "$S3_ENDPOINT/$S3_BUCKET")
  case "$status" in
    200|409) log "bucket $S3_BUCKET created" ;;  # 409: created meanwhile
    *) die "creating bucket $S3_BUCKET answered $status" ;;
  esac
}

write_conf() {
  mkdir -p "$S3_DATA"
  cat >"$S3_CONF.tmp" <<EOF
# Written by scripts/stack/s3.sh on each start; edit that script instead.
s3proxy.endpoint=$S3_ENDPOINT
s3proxy.authorization=aws-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$S3_DATA
EOF
  mv -f "$S3_CONF.tmp" "$S3_CONF"
}

cmd_start() {
  if is_running "$NAME"; then
    log "$NAME already running (pid $(cat "$RUN_DIR/$NAME.pid"))"
    ensure_bucket
    return 0
  fi
  need_cmd curl
  [[ -s "$S3PROXY_JAR" ]] || cmd_install
  check_java
  if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then
    die "port $S3_PORT is taken by a process this script did not start"
  fi
  write_conf
  # NopStatusListener: keep logback's own start-up chatter out of the log.
  start_bg "$NAME" "$(java_bin)" -Xmx512m -XX:+UseSerialGC \
    -Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener \
    -jar "$S3PROXY_JAR" --properties "$S3_CONF"
  wait_port "$NAME" "$S3_PORT" 60
  wait_until 30 "S3Proxy to answer signed requests on $S3_PORT" serves_signed
  ensure_bucket
  log "$NAME serving on $S3_ENDPOINT (bucket $S3_BUCKET, data in ${S3_DATA#"$HYDRATE_ROOT/"})"
}

cmd_stop() { stop_pid "$NAME"; }

cmd_env() {
  cat <<EOF
AWS_ENDPOINT_URL=$S3_ENDPOINT
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
AWS_REGION=$S3_REGION
S3_BUCKET=$S3_BUCKET
EOF
}

cmd_wipe() {
  is_running "$NAME" && die "$NAME is running; stop it before wiping"
  rm -rf "$S3_STATE"
  log "$NAME state wiped"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  wipe) cmd_wipe ;;
  *) echo "usage: $0 install|start|stop|env|wipe" >&2; exit 2 ;;
esac
