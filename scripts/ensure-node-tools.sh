#!/usr/bin/env bash
# The browser client's development tools (package.json, locked in package-lock.json): today
# TypeScript's compiler alone, which type-checks api/web/static (tsconfig.json; run as
# tests/web/test_types.py). Installs Debian's nodejs and npm when run as root without them,
# then `npm ci` when the lock changed since the last install. Nothing here is served, and
# nothing downloads a browser or a binary of its own.
#
# typescript is pinned exactly (5.9.3): a newer compiler may report new errors in unchanged
# files, so it is upgraded on purpose, with the fixes, not by a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing nodejs and npm (Debian packages) for the browser client's checks"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "the browser client's type check needs node and npm: install Debian's nodejs and npm" >&2
        exit 1
    fi
fi
stamp=node_modules/.liveclass-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -x node_modules/.bin/tsc ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi
