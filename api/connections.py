"""Limits on connections, before any request reaches the app: timeouts and caps.

uvicorn closes an idle keep-alive connection, but nothing else: a connection that never
sends a complete request head (slowloris: one header line every few seconds), a silent TCP
connection, or a request body that stops half-way stays open for ever, holding a file
descriptor. :func:`guarded_protocols` returns uvicorn protocol classes that enforce:

- ``header_timeout``: the request head (request line and headers) must be complete within
  this many seconds of the connection opening or of the previous response (408, closed);
  data trickling in does not extend it;
- ``max_header_bytes``: a head larger than this is refused (431, closed);
- ``body_timeout``: while a request body is incomplete, a gap of this many seconds without a
  byte closes the connection (the app sees the client leave);
- ``max_connections_per_ip``: more open connections (HTTP and WebSocket) from one address
  are closed as soon as they open (``trusted_proxies`` excepted: a proxy carries many
  clients, and limits them itself);
- ``max_connections``: at the total cap a new connection takes the place of the oldest one
  still waiting for its request head (so a flood of idle connections cannot lock ordinary
  clients out); when there is none, the new connection is closed.

Each close is logged at DEBUG only: a flood of them must not flood the log too.
Idle keep-alive connections are uvicorn's ``timeout_keep_alive``. WebSocket connections,
once upgraded, are the hub's (ping timeouts, rate limits) but still count against the caps.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from api.ws_sync import Flag, Inbox

__all__ = ["ConnectionGuard", "ConnectionLimits", "guarded_protocols"]

log = logging.getLogger("liveclass.connections")

_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_connections: int
    max_connections_per_ip: int
    #: Proxies in front (addresses, CIDR networks, "*"): not held to the per-address cap.
    trusted_proxies: tuple[str, ...] = ()

    def counts_per_address(self, address: str) -> bool:
        """Whether connections from ``address`` are held to the per-address cap."""
        return not any(_within(address, proxy) for proxy in self.trusted_proxies)


def _within(address: str, proxy: str) -> bool:
    if proxy == "*":
        return True
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(proxy, strict=False)
    except ValueError:
        return address == proxy


class ConnectionGuard:
    """Counts open connections per address and in all (one per server process)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._open: dict[asyncio.BaseTransport, str] = {}
        self._per_address: Counter[str] = Counter()
        #: Connections still waiting for a complete request head, oldest first.
        self._waiting: OrderedDict[asyncio.BaseTransport, None] = OrderedDict()
        self.refused = Counter[str]()

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, transport: asyncio.BaseTransport, address: str) -> bool:
        """Count a new connection; False when it must be closed (over a cap)."""
        held = self._per_address[address] >= self.limits.max_connections_per_ip
        if held and self.limits.counts_per_address(address):
            self.refused["per_address"] += 1
            return False
        if len(self._open) >= self.limits.max_connections:
            if not self._waiting:
                self.refused["total"] += 1
                return False
            oldest, _ = self._waiting.popitem(last=False)
            self.refused["evicted"] += 1
            oldest.close()
            self.release(oldest)
        self._open[transport] = address
        self._per_address[address] += 1
        return True

    def waiting(self, transport: asyncio.BaseTransport, waiting: bool) -> None:
        """Mark a connection as waiting for a request head (evictable) or not."""
        if not waiting:
            self._waiting.pop(transport, None)
        elif transport in self._open:
            self._waiting[transport] = None

    def release(self, transport: asyncio.BaseTransport) -> None:
        """The connection closed (idempotent)."""
        self._waiting.pop(transport, None)
        address = self._open.pop(transport, None)
        if address is not None:
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]


def _address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return ""


def guarded_protocols(
    guard: ConnectionGuard, *, ws_logger: logging.LoggerAdapter[logging.Logger] | None = None
) -> tuple[type[Any], type[Any]]:
    """uvicorn's httptools HTTP protocol and sans-I/O WebSocket protocol, enforcing
    ``guard``'s limits (pass them as ``uvicorn.Config(http=..., ws=...)``). ``ws_logger``:
    what the WebSocket protocol logs through instead of ``uvicorn.error`` (see
    ``api/ws_access_log.py``)."""
    limits = guard.limits

    class GuardedHttp(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None
        _body_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0
        _awaiting_head = False
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if not guard.admit(transport, _address(transport)):
                self._refused = True
                self.transport = transport
                transport.abort()
                return
            super().connection_made(transport)
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            guard.release(self.transport)
            self._cancel_timers()
            if self._refused:
                return
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._awaiting_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._awaiting_head and self._head_bytes > limits.max_header_bytes:
                self._close_with(_431, "request head over %d bytes", limits.max_header_bytes)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if not self._awaiting_head:  # a pipelined request: its head counts anew
                self._await_head()

        def on_headers_complete(self) -> None:
            self._awaiting_head = False
            guard.waiting(self.transport, False)
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None
            super().on_headers_complete()
            if not self.transport.is_closing() and self.cycle is not None:
                self._arm_body_timer()

        def on_body(self, body: bytes) -> None:
            super().on_body(body)
            self._arm_body_timer()

        def on_message_complete(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
            super().on_message_complete()

        def on_response_complete(self) -> None:
            pipelined = bool(self.pipeline)  # its head is in: super() starts it
            super().on_response_complete()
            if not pipelined and not self.transport.is_closing():
                self._await_head()

        def handle_websocket_upgrade(self) -> None:
            self._cancel_timers()
            super().handle_websocket_upgrade()
            # This protocol is done once the WebSocket one took the transport over, but its
            # parser refers back to it: a reference cycle that kept it (request headers,
            # scope, parser buffers: ~3 KiB) until the cyclic GC ran, in the middle of a
            # join storm's allocations (issue 18). Without the cycle it goes at once.
            self.parser = None  # type: ignore[assignment]
            self.scope = None  # type: ignore[assignment]
            self.headers = []

        # -- helpers

        def _await_head(self) -> None:
            self._awaiting_head = True
            self._head_bytes = 0
            guard.waiting(self.transport, True)
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_later(limits.header_timeout, self._head_late)

        def _arm_body_timer(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
            self._body_timer = self.loop.call_later(limits.body_timeout, self._body_late)

        def _cancel_timers(self) -> None:
            for timer in (self._head_timer, self._body_timer):
                if timer is not None:
                    timer.cancel()
            self._head_timer = self._body_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if self._awaiting_head:
                self._close_with(_408, "no request head within %.1f s", limits.header_timeout)

        def _body_late(self) -> None:
            self._body_timer = None
            cycle = self.cycle
            if cycle is None or not cycle.more_body or cycle.response_complete:
                return
            if self.flow.read_paused:  # the app is not reading: the client is not to blame
                self._arm_body_timer()
                return
            log.debug("closing a connection: its request body stalled")
            self.transport.close()

        def _close_with(self, response: bytes, why: str, arg: float) -> None:
            if self.transport.is_closing():
                return
            log.debug("closing a connection: " + why, arg)
            # A response still being written keeps its bytes; only an idle one gets ours.
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(response)
            self.transport.close()

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # Lighter than the asyncio queue and event it made (api/ws_sync.py).
            self.queue = Inbox()  # type: ignore[assignment]
            self.writable = Flag()  # type: ignore[assignment]
            self.writable.set()
            if ws_logger is not None:
                self.logger = ws_logger  # type: ignore[assignment]
                self.conn.logger = ws_logger

        def connection_lost(self, exc: Exception | None) -> None:
            guard.release(self.transport)
            super().connection_lost(exc)

    return GuardedHttp, GuardedWebSocket
