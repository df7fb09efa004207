#!/usr/bin/env bash
# Run liveclass on its embedded defaults (SQLite + in-process Redis) at http://127.0.0.1:8000.
# Its virtualenv (.venv-run) holds what serving needs and no test or lint tools.
# Any LIVECLASS_* variable set in the environment is honoured (see README, Configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh run
exec .venv-run/bin/liveclass serve "$@"
