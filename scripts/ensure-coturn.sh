#!/usr/bin/env bash
# Make sure Debian's coturn (/usr/bin/turnserver) is installed for the TURN tests
# (tests/coturn.py starts its own turnserver on a free loopback port; nothing runs as a
# service). Installs the distribution package with apt-get when run as root.
set -euo pipefail
if [ -x /usr/bin/turnserver ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing coturn (Debian package) for the TURN tests"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends coturn >/dev/null
    # The package may start its own service; the tests run their own turnserver.
    if command -v service >/dev/null; then service coturn stop >/dev/null 2>&1 || true; fi
fi
if [ ! -x /usr/bin/turnserver ]; then
    echo "the TURN tests need /usr/bin/turnserver: install Debian's coturn package" >&2
    exit 1
fi
