#!/bin/sh
# The fan-out loop's own time on the server, trees alternated: each TREE is a liveclass tree
# with fanout-timing.patch applied (`patch -p1 < fanout-timing.patch`; it appends one line per
# fan-out to /tmp/fodiag.txt: start, wall ms, CPU ms, GCs, GC ms, recipients, at once, seq) and
# node_modules linked. Embedded target, Go generator, 20 chats/s to 500 clients for 20 s.
#   sh bench/results/20261207-s17-pipe/fanout_ab.sh OUT ROUNDS TREE...   (from the repo's root)
out=$1; rounds=$2; shift 2
mkdir -p "$out"
for i in $(seq 1 "$rounds"); do
  for tree in "$@"; do
    name=$(basename "$tree")
    rm -f /tmp/fodiag.txt
    .venv/bin/liveclass-bench crosscheck --generators go --targets "liveclass@$tree" \
        --steps 20x20 --repeat 1 --no-progress --out "$out" > "$out/$name-$i.log" 2>&1
    mv /tmp/fodiag.txt "$out/$name-$i.fo"
    echo "$name $i $(grep -A1 'p99 ms' "$out/$name-$i.log" | tail -1 | awk '{print "p50",$6,"p99",$7}')" \
        "$(awk '!/^GC/ {print $2}' "$out/$name-$i.fo" | sort -n \
           | awk '{a[NR]=$1} END {print "loop p50", a[int(NR/2)], "p90", a[int(NR*0.9)]}')" \
        | tee -a "$out/summary"
  done
done
