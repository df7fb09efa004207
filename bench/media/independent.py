"""An independent measurement of the media bench's two headline figures.

The bench takes an SFU's CPU from ``/proc/<pid>/stat`` (psutil) and counts forwarded packets
from the subscribers' own RTP sequence numbers. This check shares neither:

- **packets and frames** come from a packet capture (Debian's ``tcpdump``) on the interface
  the SFU sends on: loopback for liveclass's workers, the bench's end of the veth link for
  Janus. Every UDP datagram from one of the SFU's sockets (found through ``/proc/<pid>/fd``
  and the SFU's network namespace's ``/proc/<pid>/net/udp``) is classified by its first
  bytes (RFC 7983: STUN, DTLS, RTP or RTCP; RTP and RTCP by RFC 5761's payload-type rule).
  SRTP leaves the RTP header in clear, so payload type and marker bit are readable: video
  frames are marker bits of the payload type carrying the most bytes, audio frames the
  packets of the busiest small-packet type. Only destinations that already received RTP
  before the window count (the bench's scope: late joiners are reported apart);
- **CPU** comes from ``perf stat -e task-clock -p <pids>`` (the kernel's perf events),
  running for the measured window.

The capture itself costs the sender a little (the kernel copies each datagram to the tap):
both figures of a run carry that cost alike. ``scripts/ensure-capture-tools.sh`` installs
``tcpdump`` and ``linux-perf``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Datagram",
    "IndependentCheck",
    "count_sent",
    "datagram_kind",
    "parse_perf_stat",
    "parse_proc_net_udp",
    "read_pcap",
]

#: Enough of each datagram for the link, IPv4 and UDP headers and the first RTP bytes.
_SNAPLEN = 64
_ETHERNET, _LINUX_SLL, _LINUX_SLL2 = 1, 113, 276
#: libpcap's packet buffer timeout (tcpdump's default), plus a margin.
_RING_TIMEOUT = 1.5
_LINK_HEADER = {_ETHERNET: 14, _LINUX_SLL: 16, _LINUX_SLL2: 20}


@dataclass(frozen=True, slots=True)
class Datagram:
    """One captured UDP datagram: wall-clock time, addresses, its UDP payload's length and
    first bytes."""

    ts: float
    src: tuple[str, int]
    dst: tuple[str, int]
    length: int
    head: bytes


def read_pcap(data: bytes) -> Iterator[Datagram]:
    """The IPv4 UDP datagrams of a classic pcap file (either byte order, µs or ns stamps)."""
    if len(data) < 24:
        return
    magic = data[:4]
    orders = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in orders:
        raise ValueError("not a classic pcap file")
    order, unit = orders[magic]
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    if linktype not in _LINK_HEADER:
        raise ValueError(f"unsupported link type {linktype}")
    link = _LINK_HEADER[linktype]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        frame = data[offset : offset + caplen]
        offset += caplen
        if linktype == _ETHERNET:
            proto = struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
        elif linktype == _LINUX_SLL:
            proto = struct.unpack_from("!H", frame, 14)[0] if len(frame) >= 16 else 0
        else:
            proto = struct.unpack_from("!H", frame, 0)[0] if len(frame) >= 2 else 0
        if proto != 0x0800 or len(frame) < link + 20:
            continue
        ip = frame[link:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != socket.IPPROTO_UDP or len(ip) < ihl + 8:
            continue
        sport, dport, udp_len = struct.unpack_from("!HHH", ip, ihl)
        yield Datagram(
            ts=sec + frac * unit,
            src=(socket.inet_ntoa(ip[12:16]), sport),
            dst=(socket.inet_ntoa(ip[16:20]), dport),
            length=udp_len - 8,
            head=bytes(ip[ihl + 8 : ihl + 8 + 12]),
        )


def datagram_kind(head: bytes) -> str:
    """``stun``, ``dtls``, ``rtp``, ``rtcp`` or ``other`` by a datagram's first bytes."""
    if not head:
        return "other"
    first = head[0]
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 128 <= first <= 191 and len(head) >= 2:
        return "rtcp" if 192 <= head[1] <= 223 else "rtp"
    return "other"


def parse_proc_net_udp(text: str) -> dict[int, tuple[str, int]]:
    """socket inode → local (IPv4 address, port) from ``/proc/net/udp``'s text."""
    sockets: dict[int, tuple[str, int]] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        address, port = fields[1].split(":")
        ip = socket.inet_ntoa(struct.pack("<I", int(address, 16)))
        sockets[int(fields[9])] = (ip, int(port, 16))
    return sockets


def sfu_addresses(pids: Iterable[int]) -> set[tuple[str, int]]:
    """The local addresses of the UDP sockets the processes ``pids`` hold open."""
    found: set[tuple[str, int]] = set()
    for pid in pids:
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
        with contextlib.suppress(OSError):
            table = parse_proc_net_udp(Path(f"/proc/{pid}/net/udp").read_text())
            found |= {table[i] for i in inodes if i in table}
    return found


def _from_sfu(src: tuple[str, int], ports: dict[int, set[str]]) -> bool:
    ips = ports.get(src[1])
    return ips is not None and (src[0] in ips or "0.0.0.0" in ips)


def count_sent(
    datagrams: Iterable[Datagram], sources: set[tuple[str, int]], start: float, end: float
) -> dict[str, Any]:
    """What the SFU (datagrams from ``sources``) sent in ``[start, end]``, by kind; its RTP
    to destinations that had RTP before ``start`` (``rtp``) and to the others (``rtp_late``);
    per payload type packets, bytes and marker bits; video and audio frames."""
    ports: dict[int, set[str]] = {}
    for ip, port in sources:
        ports.setdefault(port, set()).add(ip)
    kinds = dict.fromkeys(("rtp", "rtp_late", "rtcp", "stun", "dtls", "other"), 0)
    early: set[tuple[str, int]] = set()
    types: dict[int, dict[str, int]] = {}
    for d in datagrams:
        if not _from_sfu(d.src, ports):
            continue
        kind = datagram_kind(d.head)
        if d.ts < start:
            if kind == "rtp":
                early.add(d.dst)
            continue
        if d.ts > end:
            continue
        if kind != "rtp":
            kinds[kind] += 1
        elif d.dst not in early:
            kinds["rtp_late"] += 1
        else:
            kinds["rtp"] += 1
            row = types.setdefault(d.head[1] & 0x7F, {"packets": 0, "bytes": 0, "markers": 0})
            row["packets"] += 1
            row["bytes"] += d.length
            row["markers"] += d.head[1] >> 7
    return {
        **kinds,
        "destinations": len(early),
        "payload_types": {str(pt): row for pt, row in sorted(types.items())},
        "frames": _frames(types),
    }


def _frames(types: dict[int, dict[str, int]]) -> dict[str, int | None]:
    """Video frames: marker bits of the type with the most bytes; audio frames: packets of
    the busiest type averaging under 400 bytes (Opus), the video type aside."""
    if not types:
        return {"video": None, "audio": None, "video_pt": None, "audio_pt": None}
    video = max(types, key=lambda pt: types[pt]["bytes"])
    small = [pt for pt, row in types.items() if pt != video and row["bytes"] < 400 * row["packets"]]
    audio = max(small, key=lambda pt: types[pt]["packets"]) if small else None
    return {
        "video": types[video]["markers"],
        "audio": types[audio]["packets"] if audio is not None else None,
        "video_pt": video,
        "audio_pt": audio,
    }


def parse_perf_stat(text: str) -> float | None:
    """Seconds of ``task-clock`` in ``perf stat -x,`` output (None when not counted)."""
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) >= 3 and fields[2] == "task-clock" and fields[1] == "msec":
            try:
                return float(fields[0]) / 1000
            except ValueError:
                return None
    return None


class IndependentCheck:
    """A capture on ``interface`` from :meth:`start` on; :meth:`begin` and :meth:`end`
    bracket the measured window (perf stat on ``pids`` meanwhile); :meth:`figures` stops
    the capture and reads what they recorded. Always :meth:`close`."""

    def __init__(self, interface: str, cores: list[int] | None) -> None:
        self._interface = interface
        self._cores = cores
        self._dir = tempfile.TemporaryDirectory(prefix="liveclass-mediacheck-")
        self._pcap = Path(self._dir.name) / "sfu.pcap"
        self._perf_out = Path(self._dir.name) / "perf.txt"
        self._tcpdump: asyncio.subprocess.Process | None = None
        self._perf: asyncio.subprocess.Process | None = None
        self._sources: set[tuple[str, int]] = set()
        self._window = (0.0, 0.0)
        self._capture_log = ""

    def _pinned(self, argv: list[str]) -> list[str]:
        return ["taskset", "-c", ",".join(map(str, self._cores)), *argv] if self._cores else argv

    async def start(self) -> None:
        """Start capturing; returns once tcpdump listens."""
        argv = ["tcpdump", "-i", self._interface, "-n", "-s", str(_SNAPLEN), "-B", "65536"]
        self._tcpdump = await asyncio.create_subprocess_exec(
            *self._pinned([*argv, "-w", str(self._pcap), "udp"]),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._tcpdump.stderr is not None
        async with asyncio.timeout(10):
            while b"listening on" not in (line := await self._tcpdump.stderr.readline()):
                if not line:
                    raise RuntimeError("tcpdump exited: run scripts/ensure-capture-tools.sh")

    async def begin(self, pids: list[int], duration: float) -> None:
        """The window starts: perf stat on ``pids`` for ``duration`` seconds."""
        self._sources = sfu_addresses(pids)
        self._perf = await asyncio.create_subprocess_exec(
            *self._pinned(["perf", "stat", "-e", "task-clock", "-x,", "-o", str(self._perf_out)]),
            "-p",
            ",".join(map(str, pids)),
            "--",
            "sleep",
            str(duration),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._window = (time.time(), 0.0)

    async def end(self, pids: list[int]) -> None:
        """The window ends (the capture goes on until :meth:`figures`); waits for perf."""
        self._sources |= sfu_addresses(pids)
        if self._perf is not None:
            await asyncio.wait_for(self._perf.wait(), 30)
        self._window = (self._window[0], time.time())

    async def _stop_capture(self) -> None:
        process, self._tcpdump = self._tcpdump, None
        if process is None or process.returncode is not None:
            return
        # tcpdump drops what is still in the kernel's ring when interrupted, and libpcap
        # hands a ring block over after up to 1 s: the window's last datagrams would be lost.
        await asyncio.sleep(max(0.0, self._window[1] + _RING_TIMEOUT - time.time()))
        process.send_signal(2)  # SIGINT: tcpdump flushes the file and prints its drops
        assert process.stderr is not None
        err = await asyncio.wait_for(process.stderr.read(), 30)
        await process.wait()
        self._capture_log = err.decode(errors="replace")

    async def figures(self) -> dict[str, Any]:
        """The capture's and perf's figures over the window (``None`` where unmeasured)."""
        await self._stop_capture()
        start, end = self._window
        seconds = end - start
        counted = count_sent(read_pcap(self._pcap.read_bytes()), self._sources, start, end)
        cpu_s = parse_perf_stat(self._perf_out.read_text()) if self._perf_out.exists() else None
        dropped = [
            int(line.split()[0])
            for line in self._capture_log.splitlines()
            if line.endswith("dropped by kernel") and line.split()[0].isdigit()
        ]
        return {
            "interface": self._interface,
            "window_s": round(seconds, 3),
            "sfu_sockets": len(self._sources),
            "capture_dropped": dropped[0] if dropped else None,
            "sent": counted,
            "packets_per_s": round(counted["rtp"] / seconds, 1) if seconds > 0 else None,
            "cpu_s": None if cpu_s is None else round(cpu_s, 3),
            "us_per_packet": (
                round(cpu_s / counted["rtp"] * 1e6, 1) if cpu_s and counted["rtp"] else None
            ),
        }

    async def close(self) -> None:
        for process in (self._perf, self._tcpdump):
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._dir.cleanup()
