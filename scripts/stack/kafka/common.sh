# Definitions shared by scripts/stack/kafka.sh and kafka-run-class.
# Source after scripts/lib.sh.

KAFKA_VERSION=4.4.0
# Shared between clones: the jars only depend on the version and the pom.
KAFKA_HOME="$HYDRATE_CACHE/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_STACK_DIR="$HYDRATE_ROOT/scripts/stack/kafka"
# The machine's Java 17 (Debian's openjdk-17), whatever JAVA_HOME says: the
# broker jars are built for 17, and a newer JDK set for another build step
# should not change what the stack runs.
KAFKA_JAVA="${KAFKA_JAVA:-/usr/bin/java}"

# What the marker in KAFKA_HOME must hold for libs/ to count as installed:
# changing the version or the pom invalidates it.
kafka_install_stamp() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum < "$KAFKA_STACK_DIR/pom.xml" | cut -d' ' -f1)"
}

kafka_installed() {
  [[ -f "$KAFKA_HOME/.installed" && "$(cat "$KAFKA_HOME/.installed")" == "$(kafka_install_stamp)" ]]
}

# The java command line of Kafka's command-line tools: small heap, C1 only and
# warnings-only logging on stderr. These JVMs live for seconds, so start-up
# time is what matters. KAFKA_HEAP_OPTS and KAFKA_OPTS add JVM options, as in
# Kafka's own scripts.
read -ra _kafka_heap <<< "${KAFKA_HEAP_OPTS:--Xmx256m}"
read -ra _kafka_opts <<< "${KAFKA_OPTS:-}"
# No log4j shutdown hook: tools that log while exiting otherwise print a
# warning that it could not be registered.
KAFKA_TOOL_JAVA=("$KAFKA_JAVA" "${_kafka_heap[@]}" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
  -Dlog4j2.configurationFile="$KAFKA_STACK_DIR/tools-log4j2.xml" -Dlog4j2.shutdownHookEnabled=false
  "${_kafka_opts[@]}" -cp "$KAFKA_LIBS/*")
unset _kafka_heap _kafka_opts

# kafka_tool CLASS ARGS...: run one of the tools.
kafka_tool() { "${KAFKA_TOOL_JAVA[@]}" "$@"; }
