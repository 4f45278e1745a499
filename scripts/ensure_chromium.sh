#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (no browser download).
# Installs it with apt when missing and we are root; otherwise says what to do.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: /usr/bin/chromium is missing: run 'sudo apt-get install -y chromium fonts-dejavu-core'" >&2
    exit 1
fi
echo "chromium: installing from Debian's packages"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
