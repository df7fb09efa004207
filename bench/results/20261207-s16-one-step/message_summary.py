"""Per round, from the Go load generator's per-message lines (``LOADGEN_MESSAGES``): the
first and last receipt of each message after its send (ms), their p50 and p90, the slowest
last receipt, and the first three messages' last receipts.

    python message_summary.py messages.txt [label,label,...]
"""

import statistics
import sys

Message = tuple[int, float, float, int]


def rounds(path: str) -> list[list[Message]]:
    """The messages of each run, in the file's order (ids start at 0 in every run)."""
    out: list[list[Message]] = []
    with open(path) as lines:
        for line in lines:
            _, ident, first, last, received = line.split()
            if ident == "0" or not out:
                out.append([])
            out[-1].append((int(ident), float(first), float(last), int(received)))
    return out


def main() -> None:
    labels = sys.argv[2].split(",") if len(sys.argv) > 2 else []
    for i, messages in enumerate(rounds(sys.argv[1])):
        first = sorted(m[1] for m in messages)
        last = sorted(m[2] for m in messages)
        label = labels[i] if i < len(labels) else str(i)
        head = [round(m[2], 1) for m in messages[:3]]
        print(
            f"{label:<16} first p50 {statistics.median(first):.2f} "
            f"p90 {first[int(0.9 * len(first))]:.2f} | last p50 {statistics.median(last):.2f} "
            f"p90 {last[int(0.9 * len(last))]:.2f} max {last[-1]:.1f} | first 3 last: {head}"
        )


if __name__ == "__main__":
    main()
