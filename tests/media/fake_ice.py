"""Stand-ins for what an RTP outlet sends through (tests/media/test_aiortc_hooks.py,
test_outlet_wire.py): the nominated ICE pair, its UDP transport, and SRTP that protects
nothing, so a test reads exactly what was sent."""

from __future__ import annotations


class RecordingSocket:
    """The nominated ICE pair's UDP transport: what was written to it."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append(data)


class PairProtocol:
    """The pair's protocol; ``transport`` None is a closed socket."""

    def __init__(self) -> None:
        self.transport: RecordingSocket | None = RecordingSocket()

    async def send_data(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, addr)


class NominatedPair:
    def __init__(self) -> None:
        self.protocol = PairProtocol()
        self.remote_addr = ("127.0.0.1", 9)

    @property
    def datagrams(self) -> list[bytes]:
        assert self.protocol.transport is not None
        return self.protocol.transport.datagrams


class PlainSrtp:
    """SRTP that protects nothing, so the test reads what was sent."""

    def protect(self, data: bytes) -> bytes:
        return data

    def protect_rtcp(self, data: bytes) -> bytes:
        return data
