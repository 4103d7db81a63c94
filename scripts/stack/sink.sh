#!/usr/bin/env bash
# Hydrate's sink service (hydrate-sink) on the local stack; see service.sh.
SERVICE=sink
source "$(dirname "$0")/service.sh"
