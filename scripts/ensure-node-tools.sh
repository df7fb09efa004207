#!/usr/bin/env bash
# The browser client's development tools (package.json, locked in package-lock.json):
# TypeScript's compiler, which type-checks api/web/static (tsconfig.json; run as
# tests/web/test_types.py), and axe-core, whose axe.min.js tests/web/a11y.py injects into the
# pages to check them against WCAG 2 A/AA (tests/web/test_accessibility.py). Installs
# Debian's nodejs and npm when run as root without them, then `npm ci` when the lock changed
# since the last install (or a tool is missing). Nothing here is served, and
# nothing downloads a browser or a binary of its own.
#
# Both are pinned exactly (typescript 5.9.3, axe-core 4.14.1): a newer compiler or a newer
# rule set may report new errors in unchanged files, so they are upgraded on purpose, with the
# fixes, not by a fresh clone.
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
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -x node_modules/.bin/tsc ] \
    || [ ! -f node_modules/axe-core/axe.min.js ]; then
    npm ci --no-audit --no-fund --loglevel=error
    touch "$stamp"
fi
