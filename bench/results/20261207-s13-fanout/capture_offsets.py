"""From a loopback pcap (tcpdump -i lo, PSH packets): per server port, for each inbound
client frame that starts a fan-out (>= MIN outbound packets to distinct peers before the next
inbound one), the server's offset (first outbound - inbound) and spread (last - first)."""
import struct, sys, statistics
from collections import Counter, defaultdict
MIN = 400
def packets(path):
    with open(path, "rb") as f:
        gh = f.read(24)
        magic = struct.unpack("<I", gh[:4])[0]
        nano = magic == 0xa1b23c4d
        link = struct.unpack("<I", gh[20:24])[0]
        while True:
            h = f.read(16)
            if len(h) < 16: break
            sec, frac, incl, orig = struct.unpack("<IIII", h)
            data = f.read(incl)
            t = sec + frac * (1e-9 if nano else 1e-6)
            off = 14 if link == 1 else (16 if link == 113 else 0)
            ip = data[off:]
            if not ip or ip[0] >> 4 != 4: continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:]
            sport, dport = struct.unpack(">HH", tcp[:4])
            doff = (tcp[12] >> 4) * 4
            plen = total - ihl - doff
            if plen > 0:
                yield t, sport, dport, plen
pk = list(packets(sys.argv[1]))
out_count = Counter(s for _, s, d, _ in pk)
first = {}
for t, s, d, n in pk:
    if out_count[s] > 5000 and s not in first:
        first[s] = t
servers = sorted(first, key=first.get)  # the order the targets ran in
for port in servers:
    rows = [(t, s, d, n) for t, s, d, n in pk if s == port or d == port]
    events = []  # (inbound time, [outbound times])
    cur = None
    for t, s, d, n in rows:
        if d == port and n >= 40:
            if cur and len(set(p for p, _ in cur[1])) >= MIN:
                events.append(cur)
            cur = (t, [])
        elif s == port and cur is not None:
            cur[1].append((d, t))
    if cur and len(set(p for p, _ in cur[1])) >= MIN:
        events.append(cur)
    if not events:  # not a fan-out server (PostgreSQL's port, say)
        continue
    offs = [ (o[0][1] - t0) * 1e3 for t0, o in events]
    spreads = [ (o[MIN-1][1] - o[0][1]) * 1e3 for t0, o in events]
    lasts = [ (o[-1][1] - t0) * 1e3 for t0, o in events]
    q = lambda xs, p: sorted(xs)[min(len(xs)-1, int(p*len(xs)))]
    print(f"port {port}: {len(events)} fan-outs; offset p50 {q(offs,.5):.3f} p90 {q(offs,.9):.3f} p99 {q(offs,.99):.3f} ms; "
          f"first {MIN} spread p50 {q(spreads,.5):.3f} p90 {q(spreads,.9):.3f}; inbound->last p50 {q(lasts,.5):.3f} p99 {q(lasts,.99):.3f} ms; pkts/fanout {statistics.median(len(o) for _, o in events)}")
