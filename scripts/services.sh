#!/usr/bin/env bash
# Start (or stop) the real servers the tests use, each on 127.0.0.1 on a port of its own:
# `scripts/services.sh start|stop [NAME...]`. Each NAME is a script in scripts/services/.
# Idempotent: starting a server that already answers does nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
action="${1:?usage: services.sh start|stop [NAME...]}"
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for script in "$here"/services/*.sh; do
        [ -e "$script" ] && names+=("$(basename "$script" .sh)")
    done
fi
for name in "${names[@]}"; do
    bash "$here/services/$name.sh" "$action"
done
