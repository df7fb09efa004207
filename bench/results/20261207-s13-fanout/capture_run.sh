#!/bin/sh
# $1 = out dir, rest = targets
out=$1; shift
tcpdump -i lo -s 80 -w $out/cap.pcap 'tcp[tcpflags] & tcp-push != 0' >/dev/null 2>&1 &
TD=$!
sleep 1
liveclass-bench crosscheck --generators go --targets "$@" --steps 20x6 --repeat 1 --redis-url redis://127.0.0.1:6379/12 --postgres-url postgresql://postgres@127.0.0.1:5432/test --no-progress --out $out > $out/log 2>&1
kill $TD; wait $TD
