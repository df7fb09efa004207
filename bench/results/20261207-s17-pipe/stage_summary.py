"""Stage stamps of chat messages (``stage-stamps.patch`` writes one JSON line per message to
/tmp/stages.jsonl): each stage's time after the frame's bytes reached the server, p50 and p90.

    python stage_summary.py /tmp/stages.jsonl
"""

import json
import sys

ORDER = [
    "arrived",
    "recv",
    "decoded",
    "handled",
    "store",
    "script",
    "admitted",
    "reply",
    "fanout",
    "first",
    "end",
]


def main() -> None:
    with open(sys.argv[1]) as lines:
        rows = [json.loads(line) for line in lines]
    print(len(rows), "messages")
    for stage in ORDER:
        after = sorted((r[stage] - r["arrived"]) * 1e3 for r in rows if stage in r and r["arrived"])
        if after:
            p50, p90 = after[len(after) // 2], after[int(len(after) * 0.9)]
            print(f"{stage:9} p50 {p50:6.3f} ms  p90 {p90:6.3f}")


if __name__ == "__main__":
    main()
