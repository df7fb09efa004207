#!/usr/bin/env bash
# Create a virtualenv and install liveclass into it from the lock files (requirements/*.txt):
#   scripts/bootstrap.sh        .venv: liveclass with its development and test tools
#   scripts/bootstrap.sh run    .venv-run: what serving needs, nothing else
# Idempotent: reinstalls only when the lock file or pyproject.toml changed since.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-dev}
case "$mode" in
    dev) venv=.venv lock=requirements/dev.txt ;;
    run) venv=.venv-run lock=requirements/run.txt ;;
    *) echo "usage: $0 [dev|run]" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "liveclass needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1 || echo none))" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-dev >/dev/null
    else
        exit 1
    fi
fi
if [ ! -x "$venv/bin/python" ]; then
    if ! "$PYTHON" -m venv "$venv" 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$venv" && "$PYTHON" -m venv "$venv"
        else
            echo "python3 -m venv failed; install python3-venv" >&2
            exit 1
        fi
    fi
fi
stamp=$venv/.liveclass-installed
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    # Exactly the locked versions, then liveclass itself (editable) without resolving again.
    "$venv/bin/python" -m pip install -q -r "$lock"
    "$venv/bin/python" -m pip install -q --no-deps -e .
    touch "$stamp"
fi
