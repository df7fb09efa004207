#!/usr/bin/env bash
# Soak the reliability scenarios (tests/reliability): each file N times in a row, with a
# larger live WebSocket fuzz. Localhost only (PostgreSQL and Redis on 127.0.0.1, nodes on free
# loopback ports), bounded: every run has a time limit and the script stops at the first
# failure, printing which iteration failed.
#
#   bench/soak-reliability.sh [ITERATIONS] [FUZZ_EXAMPLES]      (defaults: 10, 2000)
#
# Set LIVECLASS_TEST_NAMESPACE / LIVECLASS_TEST_REDIS_DB to keep apart from other suites.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS="${1:-10}"
export LIVECLASS_FUZZ_EXAMPLES="${2:-2000}"
PYTEST=".venv/bin/pytest"
[ -x "$PYTEST" ] || { echo "run ./scripts/bootstrap.sh first" >&2; exit 2; }
FILES=(
  tests/reliability/test_redis_restart.py
  tests/reliability/test_postgres_outage.py
  tests/reliability/test_node_loss.py
  tests/integration/test_two_nodes.py
  tests/reliability/test_join_storm.py
  tests/reliability/test_limits.py
  tests/reliability/test_auth_attacks.py
  tests/reliability/test_secure_defaults.py
  tests/integration/test_media_nodes.py
)
start=$(date +%s)
for i in $(seq 1 "$ITERATIONS"); do
  for file in "${FILES[@]}"; do
    echo "== iteration $i/$ITERATIONS: $file"
    if ! timeout 900 "$PYTEST" -p no:cacheprovider -q -s "$file" 2>&1 | grep -E "passed|failed|error|re-asserted|join storm|gone after"; then
      echo "FAILED: $file in iteration $i" >&2
      exit 1
    fi
  done
done
echo "== the live WebSocket fuzz, $LIVECLASS_FUZZ_EXAMPLES examples"
timeout 3600 "$PYTEST" -p no:cacheprovider -q -s tests/reliability/test_ws_fuzz.py 2>&1 | grep -E "fuzz|passed|failed"
echo "soak passed: $ITERATIONS iterations in $(( $(date +%s) - start )) s"
