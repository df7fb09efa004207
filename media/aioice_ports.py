"""Binding ICE's UDP sockets inside a configured port range (aioice has no option for it).

A media worker behind a firewall needs a known range of UDP ports opened for it. aioice
gathers host candidates by calling ``loop.create_datagram_endpoint(..., local_addr=(address,
0))`` from ``Connection.get_component_candidates``, taking the loop from
``asyncio.get_running_loop()`` as seen through its module's ``asyncio`` name. That name is
replaced once, at import, by a view of :mod:`asyncio` whose ``get_running_loop`` returns the
real loop, or, inside :func:`udp_port_range`, a thin wrapper of it whose
``create_datagram_endpoint`` binds a port-0 request to a free port of the range instead
(starting at a random port, trying each once). Everything else passes through untouched; with
no range set, aioice behaves exactly as before. ``tests/media/test_aioice_ports.py`` checks
the seam (aioice's version and that gathering goes through it) and the behaviour with many
connections at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import random
import types
from collections.abc import Iterator
from typing import Any

import aioice.ice

__all__ = ["AIOICE_VERSION", "PortRangeExhausted", "udp_port_range"]

#: The aioice version this seam was written and tested against.
AIOICE_VERSION = "0.13.0"

_PORTS: contextvars.ContextVar[range | None] = contextvars.ContextVar(
    "liveclass_udp_ports", default=None
)


class PortRangeExhausted(OSError):
    """Every port of the configured range is taken."""


class _RangeBindingLoop:
    """The running loop, except that UDP endpoints asked for on port 0 bind in ``ports``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ports: range) -> None:
        self._loop = loop
        self._ports = ports

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, protocol_factory: Any, local_addr: tuple[str, int] | None = None, **kwargs: Any
    ) -> Any:
        if local_addr is None or local_addr[1] != 0:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, **kwargs
            )
        start = random.randrange(len(self._ports))
        for i in range(len(self._ports)):
            port = self._ports[(start + i) % len(self._ports)]
            try:
                return await self._loop.create_datagram_endpoint(
                    protocol_factory, local_addr=(local_addr[0], port), **kwargs
                )
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise PortRangeExhausted(
            errno.EADDRINUSE,
            f"no free UDP port on {local_addr[0]} in {self._ports.start}-{self._ports.stop - 1}",
        )


class _AsyncioAsAioiceSeesIt(types.ModuleType):
    """:mod:`asyncio`, but for ``get_running_loop`` inside a :func:`udp_port_range` block."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    def get_running_loop() -> Any:
        loop = asyncio.get_running_loop()
        ports = _PORTS.get()
        return loop if ports is None else _RangeBindingLoop(loop, ports)


aioice.ice.asyncio = _AsyncioAsAioiceSeesIt("asyncio")  # type: ignore[attr-defined]


@contextlib.contextmanager
def udp_port_range(ports: range | None) -> Iterator[None]:
    """Within this block (and tasks it starts), ICE binds its host candidates' UDP sockets on
    ports of ``ports`` (``None``: any free port, aioice's default). Gathering happens in
    ``RTCPeerConnection.setLocalDescription``: wrap that call. When the whole range is taken,
    that gathering fails for the address concerned (aioice logs it and offers no candidate
    there)."""
    token = _PORTS.set(ports)
    try:
        yield
    finally:
        _PORTS.reset(token)
