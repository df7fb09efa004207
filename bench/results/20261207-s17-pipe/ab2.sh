#!/bin/sh
# Trees on Redis + PostgreSQL, one crosscheck each per round, the order reversed every other
# round, every message's first and last receipt in OUT/<tree>.msgs (message_summary.py of
# ../20261207-s16-one-step). Each TREE: a `git archive` unpacked, node_modules linked.
#   sh bench/results/20261207-s17-pipe/ab2.sh OUT ROUNDS STEPS TREE...   (from the repo's root)
out=$(mkdir -p "$1" && cd "$1" && pwd); n=$2; steps=$3; shift 3
for i in $(seq 1 "$n"); do
  if [ $((i % 2)) -eq 1 ]; then order="$*"; else order=$(echo "$*" | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for tree in $order; do
    t=$(basename "$tree")
    LOADGEN_MESSAGES=$out/$t.msgs .venv/bin/liveclass-bench crosscheck --generators go \
        --targets "liveclass-redis@$tree" --steps "$steps" --repeat 1 \
        --redis-url redis://127.0.0.1:6379/12 \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test --no-progress --out "$out" \
        > "$out/$t-$i.log" 2>&1
    echo "$t $i $(grep -A1 'p99 ms' "$out/$t-$i.log" | tail -1 | awk '{print "p50",$6,"p99",$7}')" \
        | tee -a "$out/summary"
  done
done
