#!/usr/bin/env bash
# Make sure Debian's chromium is at /usr/bin/chromium for the browser tests (tests/web).
# Installs the distribution package with apt-get when run as root; never downloads a browser
# build of its own (Playwright drives this one through executable_path).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium (Debian package) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "the browser tests need /usr/bin/chromium: install Debian's chromium package" >&2
    exit 1
fi
