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
    # Exactly the lock: first remove what it no longer holds (a replaced dependency), then
    # install it; after a removal, reinstall everything, since two packages may have shared
    # files (swagger-ui-bundle and its successor share their module).
    extra=$("$venv/bin/python" - "$lock" <<'PY'
import re, subprocess, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
locked = {norm(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", open(sys.argv[1]).read(), re.M)}
frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
                        capture_output=True, text=True, check=True).stdout
names = [line.split("==")[0] for line in frozen.splitlines() if "==" in line]
print(" ".join(n for n in names if norm(n) not in locked | {"pip", "setuptools", "wheel"}))
PY
)
    if [ -n "$extra" ]; then
        # shellcheck disable=SC2086
        "$venv/bin/python" -m pip uninstall -q -y $extra
        "$venv/bin/python" -m pip install -q --force-reinstall --no-deps -r "$lock"
    else
        "$venv/bin/python" -m pip install -q -r "$lock"
    fi
    "$venv/bin/python" -m pip install -q --no-deps -e .
    touch "$stamp"
fi
