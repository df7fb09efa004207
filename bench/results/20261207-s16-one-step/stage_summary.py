"""Stage-to-stage times (ms) of the chat path from the timing hook's JSON lines
(``stage-timing-hook.patch`` writes /tmp/lead-timing.jsonl, one line per chat message).

    python stage_summary.py /tmp/lead-timing.jsonl arrived-recv recv-script script-reply ...
"""

import json
import sys


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    with open(sys.argv[1]) as lines:
        rows = [json.loads(line) for line in lines]
    for stage in sys.argv[2:]:
        a, b = stage.split("-")
        ms = [(r[b] - r[a]) * 1000 for r in rows if r.get(a) and r.get(b)]
        if ms:
            print(
                f"{a:>8}->{b:<8} n={len(ms)} p50={quantile(ms, 0.5):.3f} "
                f"p90={quantile(ms, 0.9):.3f} p99={quantile(ms, 0.99):.3f}"
            )


if __name__ == "__main__":
    main()
