#!/bin/sh
# Four Go crosschecks at 10k deliveries/s of Redis + PostgreSQL, socket.io and the embedded
# default, one round each, the targets' order rotated, every message's first and last receipt
# in $1/messages.txt (read it with message_summary.py). From the repository's root:
#   sh bench/results/20261207-s16-one-step/interleaved.sh OUT [STEPS] (STEPS: 20x6, or 20x30)
# LIVECLASS_BENCH_REDIS / LIVECLASS_BENCH_POSTGRES name the services (these defaults otherwise).
out=$(mkdir -p "$1" && cd "$1" && pwd); steps=${2:-20x6}  # absolute: the generator runs elsewhere
redis=${LIVECLASS_BENCH_REDIS:-redis://127.0.0.1:6379/12}
postgres=${LIVECLASS_BENCH_POSTGRES:-postgresql://postgres@127.0.0.1:5432/test}
mkdir -p "$out"
for order in "liveclass-redis,node-socketio,liveclass" "liveclass,node-socketio,liveclass-redis" \
    "node-socketio,liveclass-redis,liveclass" "liveclass-redis,liveclass,node-socketio"; do
    LOADGEN_MESSAGES=$out/messages.txt .venv/bin/liveclass-bench crosscheck --generators go \
        --targets "$order" --steps "$steps" --repeat 1 --redis-url "$redis" \
        --postgres-url "$postgres" --no-progress --out "$out" >> "$out/log" 2>&1
    echo "order $order" >> "$out/orders"
done
