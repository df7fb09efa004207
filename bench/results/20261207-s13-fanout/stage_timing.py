import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
S = [("arrived","recv","socket data -> hub reads frame"),("recv","post","frame -> chat store call"),("post","admitted","admission"),("admitted","stored","row + group commit"),("stored","bus_rx","log+publish -> bus event"),("bus_rx","fanout","bus event -> fan-out"),("fanout","first","fan-out start -> first write"),("fanout","queued","whole fan-out"),("arrived","first","socket data -> first write")]
pids = sorted({r["pid"] for r in rows}, key=lambda p: min(r["recv"] for r in rows if r["pid"]==p))
q = lambda xs,p: sorted(xs)[min(len(xs)-1,int(p*len(xs)))]
for pid in pids:
    mine=[r for r in rows if r["pid"]==pid]
    print("pid", pid, len(mine))
    for a,b,w in S:
        ms=[(r[b]-r[a])*1e3 for r in mine if r.get(a,0)>0 and r.get(b,0)>0]
        if ms: print(f"  {w:32s} p50 {q(ms,.5):7.3f} p90 {q(ms,.9):7.3f} p99 {q(ms,.99):7.3f} n={len(ms)}")
