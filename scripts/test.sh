#!/usr/bin/env bash
# The whole test suite: install, make sure Redis and PostgreSQL are up, then lint, type-check
# and run pytest (every API test against SQLite+fakeredis and against PostgreSQL+Redis; the
# browser tests in Debian's chromium, installed by ensure-browser.sh; the browser client's
# type check with TypeScript's compiler, installed from package-lock.json by
# ensure-node-tools.sh; the bench's Go load generator, built from Debian's Go and
# gorilla/websocket by ensure-go-tools.sh).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
./scripts/ensure-services.sh
./scripts/ensure-browser.sh
./scripts/ensure-coturn.sh
./scripts/ensure-janus.sh
./scripts/ensure-capture-tools.sh
./scripts/ensure-node-tools.sh
./scripts/ensure-go-tools.sh >/dev/null
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
# Bytecode is cached even where the environment says PYTHONDONTWRITEBYTECODE: every server the
# tests start would compile every module again (5 s of each pytest worker's start alone).
unset PYTHONDONTWRITEBYTECODE
# loadgroup: the cross-node tests (xdist_group "topology") share one worker and one topology.
exec .venv/bin/pytest -n 2 --dist loadgroup -p no:cacheprovider "$@"
