#!/usr/bin/env bash
# Make sure Debian's chromium is at /usr/bin/chromium for the browser tests (tests/web).
# Installs the distribution package with apt-get when run as root; never downloads a browser
# build of its own (Playwright drives this one through executable_path).
# The colour emoji font comes with it: without it the reaction buttons in the screenshots are
# empty boxes, which no student's browser shows.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium and an emoji font (Debian packages) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-noto-color-emoji >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "the browser tests need /usr/bin/chromium: install Debian's chromium package" >&2
    exit 1
fi
