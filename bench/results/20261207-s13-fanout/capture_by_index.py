"""The first 20 fan-outs of each server in a capture, one by one (first to last outbound
segment, and the offset after the inbound frame), and the median of the rest: every
connection's first messages fan out slower.

    python capture_by_index.py cap.pcap
"""

import sys

from capture_offsets import fan_outs, packets, servers


def main() -> None:
    pk = list(packets(sys.argv[1]))
    for port in servers(pk):
        events = fan_outs(pk, port)
        if not events:
            continue
        spreads = [(out[-1] - out[0]) * 1e3 for _, out in events]
        offsets = [(out[0] - t0) * 1e3 for t0, out in events]
        for name, values in (("spread", spreads), ("offset", offsets)):
            rest = sorted(values[20:])
            median = rest[len(rest) // 2] if rest else float("nan")
            first = [round(v, 2) for v in values[:20]]
            print(f"{port} {name} first 20: {first} median after 20: {median:.2f}")


if __name__ == "__main__":
    main()
