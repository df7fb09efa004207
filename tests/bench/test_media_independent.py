"""The media bench's independent check (bench/media/independent.py): reading a pcap file,
classifying datagrams, finding the SFU's sockets, counting what it sent in a window, perf's
output, the ratios; and the real tools (tcpdump, perf) on this process's own datagrams."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from typing import Any

import pytest

from bench.media.independent import (
    Datagram,
    IndependentCheck,
    count_sent,
    datagram_kind,
    parse_perf_stat,
    parse_proc_net_udp,
    read_pcap,
    sfu_addresses,
)
from bench.media.independent_report import agreement, agreement_lines, ratio

SFU = ("127.0.0.1", 40000)
SUB_A = ("127.0.0.1", 50001)
SUB_B = ("127.0.0.1", 50002)


def _rtp(pt: int, marker: bool = False) -> bytes:
    return bytes([0x80, (0x80 if marker else 0) | pt]) + b"\x00" * 10


def _udp_frame(src: tuple[str, int], dst: tuple[str, int], payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        socket.IPPROTO_UDP,
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + udp


def _pcap(frames: list[tuple[float, bytes]], snaplen: int = 64) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)
    for ts, frame in frames:
        kept = frame[:snaplen]
        out += struct.pack("<IIII", int(ts), round(ts % 1 * 1e6), len(kept), len(frame))
        out += kept
    return out


def test_read_pcap_gives_udp_datagrams_with_their_length_and_first_bytes() -> None:
    payload = _rtp(96, marker=True) + b"x" * 1000
    arp = b"\x00" * 12 + b"\x08\x06" + b"\x00" * 28
    data = _pcap([(100.25, _udp_frame(SFU, SUB_A, payload)), (100.5, arp)])
    (datagram,) = read_pcap(data)
    assert datagram.ts == pytest.approx(100.25)
    assert (datagram.src, datagram.dst) == (SFU, SUB_A)
    assert datagram.length == len(payload)  # from the UDP header, not the truncated capture
    assert datagram.head == payload[:12]
    with pytest.raises(ValueError, match="not a classic pcap"):
        list(read_pcap(b"\x00" * 24))


def test_datagrams_are_told_apart_by_their_first_bytes() -> None:
    assert datagram_kind(b"\x00\x01") == "stun"
    assert datagram_kind(b"\x17\xfe\xfd") == "dtls"
    assert datagram_kind(_rtp(96)) == "rtp"
    assert datagram_kind(_rtp(111, marker=True)) == "rtp"
    assert datagram_kind(b"\x81\xc8") == "rtcp"  # sender report
    assert datagram_kind(b"\x8f\xcd") == "rtcp"  # transport feedback
    assert datagram_kind(b"") == "other"


def test_proc_net_udp_maps_inodes_to_local_addresses() -> None:
    text = (
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode ref pointer drops\n"
        "  12: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
        "        0 123456 2 0000000000000000 0\n"
        "  13: 00000000:1F90 00000000:0000 07 00000000:00000000 00:00000000 00000000     0"
        "        0 654321 2 0000000000000000 0\n"
    )
    assert parse_proc_net_udp(text) == {123456: SFU, 654321: ("0.0.0.0", 8080)}


def test_count_sent_keeps_the_window_and_the_destinations_present_before_it() -> None:
    late = ("127.0.0.1", 50003)
    other = ("127.0.0.1", 40001)

    def d(
        ts: float, payload: bytes, dst: tuple[str, int] = SUB_A, src: tuple[str, int] = SFU
    ) -> Datagram:
        return Datagram(ts, src, dst, 1000 if payload[1] & 0x7F == 96 else 80, payload)

    datagrams = [
        d(9.0, _rtp(96), SUB_A),
        d(9.5, _rtp(111), SUB_B),
        d(10.1, _rtp(96)),
        d(10.2, _rtp(96, marker=True)),
        d(10.3, _rtp(111, marker=True), SUB_B),
        d(10.4, _rtp(111, marker=True), SUB_B),
        d(10.5, b"\x81\xc9" + b"\x00" * 10, SUB_B),  # RTCP
        d(10.6, b"\x00\x01" + b"\x00" * 10),  # STUN
        d(10.7, _rtp(96), late),  # joined during the window
        d(10.8, _rtp(96), src=other),  # not the SFU's socket (the publisher's, say)
        d(12.5, _rtp(96)),  # after the window
    ]
    sent = count_sent(datagrams, {SFU}, 10.0, 12.0)
    assert (sent["rtp"], sent["rtp_late"], sent["rtcp"], sent["stun"]) == (4, 1, 1, 1)
    assert sent["destinations"] == 2
    assert sent["payload_types"] == {
        "96": {"packets": 2, "bytes": 2000, "markers": 1},
        "111": {"packets": 2, "bytes": 160, "markers": 2},
    }
    assert sent["frames"] == {"video": 1, "audio": 2, "video_pt": 96, "audio_pt": 111}
    # a socket bound to every address matches by port
    assert count_sent(datagrams, {("0.0.0.0", 40000)}, 10.0, 12.0)["rtp"] == 4


def test_perf_stat_task_clock_in_seconds() -> None:
    text = "# started on Mon Dec  7 05:34:12 2026\n\n1234.5,msec,task-clock,1234,100.00,0.4,CPUs\n"
    assert parse_perf_stat(text) == pytest.approx(1.2345)
    assert parse_perf_stat("<not counted>,msec,task-clock,0,100.00,,\n") is None
    assert parse_perf_stat("") is None


def _run(packets_per_s: float, cpu_s: float, us: float) -> dict[str, Any]:
    return {
        "target": "janus",
        "subscribers": 30,
        "window_s": 10.0,
        "cpu": {"sfu_s": [cpu_s]},
        "forwarded": {"packets_per_s": packets_per_s},
        "us_per_packet": us,
        "frames": {"video": {"received": 9000}, "audio": {"received": 15000}},
    }


def _independent(packets: int, cpu_s: float | None) -> dict[str, Any]:
    return {
        "window_s": 10.0,
        "packets_per_s": packets / 10,
        "cpu_s": cpu_s,
        "us_per_packet": round(cpu_s / packets * 1e6, 1) if cpu_s else None,
        "capture_dropped": 0,
        "sent": {
            "rtp": packets,
            "rtp_late": 0,
            "rtcp": 9,
            "frames": {"video": 9000, "audio": 15000},
        },
    }


def test_ratios_and_agreement_within_one_and_a_half() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0) is None
    ok = agreement(_run(5000.0, 1.0, 20.0), _independent(50_000, 1.1))
    assert ok["figures"]["sfu_cpu_utilisation"] == {
        "bench": 0.1,
        "independent": 0.11,
        "ratio": 0.909,
    }
    assert ok["figures"]["us_per_packet"]["ratio"] == pytest.approx(0.909, abs=0.001)
    assert ok["agrees_within_1_5x"]
    assert not agreement(_run(5000.0, 1.0, 20.0), _independent(20_000, 1.0))["agrees_within_1_5x"]
    assert not agreement(_run(5000.0, 1.0, 20.0), _independent(50_000, None))["agrees_within_1_5x"]
    run = {**_run(5000.0, 1.0, 20.0), "independent": {**_independent(50_000, 1.1)}}
    run["independent"]["agreement"] = ok
    lines = agreement_lines([run])
    assert "20.0 / 22.0 = 0.909" in lines[2]
    assert "yes" in lines[2]


async def test_the_real_tools_count_this_process_s_datagrams_and_cpu() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender.bind(("127.0.0.1", 0))
    target = receiver.getsockname()
    check = IndependentCheck("lo", None)
    try:
        await check.start()
        assert sender.getsockname() in sfu_addresses([os.getpid()])
        sender.sendto(_rtp(96), target)  # before the window: the destination is present
        await asyncio.sleep(0.05)
        await check.begin([os.getpid()], 0.5)
        for i in range(200):
            sender.sendto(_rtp(96, marker=i % 4 == 3) + b"v" * 1000, target)
            sender.sendto(_rtp(111, marker=True) + b"a" * 60, target)
            await asyncio.sleep(0.001)
        await check.end([os.getpid()])
        figures = await check.figures()
    finally:
        await check.close()
        sender.close()
        receiver.close()
    assert figures["sent"]["rtp"] == 400
    assert figures["sent"]["frames"] == {"video": 50, "audio": 200, "video_pt": 96, "audio_pt": 111}
    assert figures["capture_dropped"] == 0
    assert figures["cpu_s"] is not None
    assert figures["cpu_s"] > 0
