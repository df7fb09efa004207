"""A connection for readers that cannot afford a future per message (the bench's load
generator, a bot in a very busy room): every complete data frame goes to a callback as soon as
it is parsed.

Used as ``websockets.connect(url, create_connection=FastConnection)``, then set
``on_frame``. Frames reach the callback as ``bytes`` (text frames undecoded), in order; they
do not reach ``recv()``, so nothing pushes back on the server: a slow callback is the
caller's to avoid.
"""

from __future__ import annotations

from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event

__all__ = ["FastConnection"]


class FastConnection(ClientConnection):
    """A client connection that hands every complete data frame to ``on_frame`` as soon as it
    is parsed, instead of queueing it for ``recv()``. Fragmented messages, control frames and
    the handshake take the usual path."""

    on_frame: Callable[[bytes], None] | None = None

    def process_event(self, event: Event) -> None:
        handler = self.on_frame
        if (
            handler is not None
            and isinstance(event, Frame)
            and event.fin
            and event.opcode in (Opcode.TEXT, Opcode.BINARY)
        ):
            data = event.data
            handler(data if isinstance(data, bytes) else bytes(data))
            return
        super().process_event(event)
