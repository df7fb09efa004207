#!/bin/sh
# rotated crosschecks: A B socket.io ; args OUT STEPS TARGET_A TARGET_B
out=$(mkdir -p "$1" && cd "$1" && pwd); steps=$2; a=$3; b=$4
for order in "$a,node-socketio,$b" "$b,$a,node-socketio" "node-socketio,$b,$a" "$a,$b,node-socketio" "$b,node-socketio,$a" "node-socketio,$a,$b"; do
    LOADGEN_MESSAGES=$out/messages.txt .venv/bin/liveclass-bench crosscheck --generators go \
        --targets "$order" --steps "$steps" --repeat 1 --redis-url redis://127.0.0.1:6379/12 \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test --no-progress --out "$out" >> "$out/log" 2>&1
    echo "order $order" >> "$out/orders"
done
