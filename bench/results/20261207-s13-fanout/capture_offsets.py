"""From a loopback capture (``capture_run.sh``: tcpdump of data segments during a crosscheck),
for each server port in the order the targets ran: every inbound client frame that starts a
fan-out (>= MIN outbound segments before the next inbound frame), the server's offset (first
outbound segment - the inbound frame) and spread (the MIN-th outbound - the first).

    python capture_offsets.py cap.pcap
"""

import statistics
import struct
import sys
from collections import Counter
from collections.abc import Iterator

MIN = 400
Packet = tuple[float, int, int, int]  # time, source port, destination port, payload bytes


def packets(path: str) -> Iterator[Packet]:
    """The TCP segments with a payload in a pcap file (Ethernet or Linux cooked, IPv4)."""
    with open(path, "rb") as f:
        header = f.read(24)
        nano = struct.unpack("<I", header[:4])[0] == 0xA1B23C4D
        link = struct.unpack("<I", header[20:24])[0]
        offset = 14 if link == 1 else (16 if link == 113 else 0)
        while True:
            record = f.read(16)
            if len(record) < 16:
                return
            sec, frac, incl, _ = struct.unpack("<IIII", record)
            data = f.read(incl)
            ip = data[offset:]
            if not ip or ip[0] >> 4 != 4:
                continue
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            tcp = ip[ihl:]
            sport, dport = struct.unpack(">HH", tcp[:4])
            payload = total - ihl - (tcp[12] >> 4) * 4
            if payload > 0:
                yield sec + frac * (1e-9 if nano else 1e-6), sport, dport, payload


def servers(pk: list[Packet]) -> list[int]:
    """Ports that sent many segments, in the order they first did (the targets' order)."""
    sent = Counter(source for _, source, _, _ in pk)
    first: dict[int, float] = {}
    for t, source, _, _ in pk:
        if sent[source] > 5000 and source not in first:
            first[source] = t
    return sorted(first, key=first.__getitem__)


def fan_outs(pk: list[Packet], port: int) -> list[tuple[float, list[float]]]:
    """(inbound frame time, outbound segment times) for each fan-out on ``port``."""
    events: list[tuple[float, list[float]]] = []
    current: tuple[float, list[float]] | None = None
    for t, source, dest, size in pk:
        if dest == port and size >= 40:
            if current is not None and len(current[1]) >= MIN:
                events.append(current)
            current = (t, [])
        elif source == port and current is not None:
            current[1].append(t)
    if current is not None and len(current[1]) >= MIN:
        events.append(current)
    return events


def q(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    pk = list(packets(sys.argv[1]))
    for port in servers(pk):
        events = fan_outs(pk, port)
        if not events:  # not a fan-out server (PostgreSQL's port, say)
            continue
        offsets = [(out[0] - t0) * 1e3 for t0, out in events]
        spreads = [(out[MIN - 1] - out[0]) * 1e3 for _, out in events]
        per = statistics.median(len(out) for _, out in events)
        print(
            f"port {port}: {len(events)} fan-outs; offset p50 {q(offsets, 0.5):.3f} "
            f"p90 {q(offsets, 0.9):.3f} p99 {q(offsets, 0.99):.3f} ms; first {MIN} spread "
            f"p50 {q(spreads, 0.5):.3f} p90 {q(spreads, 0.9):.3f} ms; segments per fan-out {per}"
        )


if __name__ == "__main__":
    main()
