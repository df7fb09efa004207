"""Stage stamps of chat messages (``stage-stamps.patch`` writes one JSON line per message to
/tmp/stages.jsonl): each stage's time after the frame's bytes reached the server (p50, p90),
and the same split by which path started the fan-out: the script's reply (``reply`` stamped)
or the bus's echo of the message, read by the pub/sub listener before the reply.

    python stage_summary.py /tmp/stages.jsonl
"""

import json
import sys

ORDER = [
    "recv",
    "decoded",
    "handled",
    "store",
    "drafted",
    "evented",
    "packed",
    "sent",
    "bytes_in",
    "reply",
    "fanout",
    "first",
    "end",
]
SPANS = [("sent", "bytes_in"), ("bytes_in", "fanout"), ("fanout", "first"), ("arrived", "first")]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[int(len(values) * q)] if values else float("nan")


def main() -> None:
    with open(sys.argv[1]) as lines:
        rows = [json.loads(line) for line in lines]
    rows = rows[len(rows) // 10 :]  # the first tenth: the server warming up
    print(len(rows), "messages")
    for stage in ORDER:
        after = [(r[stage] - r["arrived"]) * 1e3 for r in rows if stage in r and r["arrived"]]
        if after:
            p50, p90 = pct(after, 0.5), pct(after, 0.9)
            print(f"{stage:9} n={len(after):4} p50 {p50:.3f} ms p90 {p90:.3f}")
    for name, picked in (("reply first", True), ("echo first", False)):
        chosen = [r for r in rows if ("reply" in r) == picked]
        for a, b in SPANS:
            span = [(r[b] - r[a]) * 1e3 for r in chosen if a in r and b in r and r[a]]
            p50, p90 = pct(span, 0.5), pct(span, 0.9)
            print(f"{name:11} {a:>8}->{b:8} n={len(span):4} p50 {p50:.3f} p90 {p90:.3f}")


if __name__ == "__main__":
    main()
