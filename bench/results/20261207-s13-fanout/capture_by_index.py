import sys
from pathlib import Path
exec(Path(__file__).with_name("capture_offsets.py").read_text().split("pk = list")[0])
pk = list(packets(sys.argv[1]))
from collections import Counter
out_count = Counter(s for _, s, d, _ in pk)
first = {}
for t, s, d, n in pk:
    if out_count[s] > 5000 and s not in first: first[s] = t
for port in sorted(first, key=first.get):
    rows = [(t, s, d, n) for t, s, d, n in pk if s == port or d == port]
    events=[]; cur=None
    for t, s, d, n in rows:
        if d == port and n >= 40:
            if cur and len(cur[1]) >= 400: events.append(cur)
            cur=(t, [])
        elif s == port and cur is not None: cur[1].append(t)
    if cur and len(cur[1]) >= 400: events.append(cur)
    if not events: continue
    spreads=[(o[-1]-o[0])*1e3 for _, o in events]
    offs=[(o[0]-t0)*1e3 for t0, o in events]
    print(port, "spread first 20:", [round(x,1) for x in spreads[:20]], "median after 20:", round(sorted(spreads[20:])[len(spreads[20:])//2],2))
    print("     offset first 20:", [round(x,2) for x in offs[:20]], "median after 20:", round(sorted(offs[20:])[len(offs[20:])//2],2))
