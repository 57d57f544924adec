#!/usr/bin/env bash
# The Debian packages the tests need: the real servers (Redis, NATS, PostgreSQL) and a headless
# browser for the dashboard test, node and npm for the editor grammar's test (a real TextMate
# tokenizer), Java 17 for the Flink mini-cluster (`rillet[flink]`). Installs only what is
# missing, so a second run is quick.
set -euo pipefail
packages=(redis-server nats-server postgresql chromium chromium-driver nodejs npm openjdk-17-jre-headless)
missing=()
for package in "${packages[@]}"; do
    # NodeSource's nodejs bundles npm (and conflicts with Debian's): a working `npm` will do
    if [ "$package" = npm ] && command -v npm >/dev/null; then
        continue
    fi
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
