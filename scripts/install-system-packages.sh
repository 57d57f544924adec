#!/usr/bin/env bash
# The Debian packages the tests need: the real servers (Redis, NATS, PostgreSQL) and a headless
# browser for the dashboard test. Installs only what is missing, so a second run is quick.
set -euo pipefail
packages=(redis-server nats-server postgresql chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
