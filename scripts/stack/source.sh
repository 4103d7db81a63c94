#!/usr/bin/env bash
# Hydrate's source service (hydrate-source) on the local stack; see service.sh.
SERVICE=source
source "$(dirname "$0")/service.sh"
