#!/usr/bin/env bash
# Make sure Debian's Janus (/usr/bin/janus) is installed for the media bench's test
# (tests/bench/test_media_bench.py runs it beside liveclass, with a configuration of its own,
# in a network namespace the bench makes; no Janus service runs). Installs the distribution
# package with apt-get when run as root; `liveclass-bench setup --janus` does the same.
set -euo pipefail
if [ -x /usr/bin/janus ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing janus (Debian package) for the media bench"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends janus iproute2 >/dev/null
    # The package's service would listen with /etc/janus's defaults: the bench runs its own.
    if command -v service >/dev/null; then service janus stop >/dev/null 2>&1 || true; fi
fi
if [ ! -x /usr/bin/janus ]; then
    echo "the media bench's test needs /usr/bin/janus: install Debian's janus package" >&2
    exit 1
fi
