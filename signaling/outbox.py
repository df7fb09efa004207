"""A connection's bounded send queue, with the slow-consumer policy and write coalescing.

Policy: fan-out only ever *appends* to an outbox (never waits), so one slow client cannot hold
up a room. An outbox holds at most ``max_frames`` frames and ``max_bytes`` bytes; the push
that would exceed either fails, and the hub closes that connection with 4008 (too slow). The
client reconnects with its resume token and catches up on reliable messages from the log.

When several frames are waiting, the writer sends them as one frame holding an array of
messages (JSON ``[m1,m2]`` or a MessagePack array), which saves a syscall and a WebSocket
header per message. Frames are joined from their already-encoded bytes: nothing is encoded
twice.
"""

from __future__ import annotations

import struct

from signaling.protocol import Codec, wire_size

__all__ = ["Outbox", "join_frames"]


class Outbox:
    def __init__(self, codec: Codec, *, max_frames: int = 1024, max_bytes: int = 4 << 20) -> None:
        self.codec = codec
        # Lists, not deques: an empty deque costs ~760 bytes, an empty list 56, and an idle
        # connection's outbox is empty (issue 18: memory per idle connection). ``take`` drains
        # from the front in one slice, so lists cost no more time than deques here.
        #: The frames waiting, oldest first (read it, change it only through the methods):
        #: a fan-out's hot path asks ``not outbox.frames`` instead of calling ``len``.
        self.frames: list[str | bytes] = []
        self._sizes: list[int] = []
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def pending_bytes(self) -> int:
        """Bytes queued, as they go on the wire (UTF-8 for text frames)."""
        return self._bytes

    def push(self, frame: str | bytes, size: int | None = None) -> bool:
        """Queue ``frame`` (``size``: its :func:`~signaling.protocol.wire_size`, when the
        caller, a fan-out, measured it once for every recipient); False when the outbox is
        full (the consumer is too slow)."""
        if size is None:
            size = wire_size(frame)
        if len(self.frames) >= self._max_frames or self._bytes + size > self._max_bytes:
            return False
        self.frames.append(frame)
        self._sizes.append(size)
        self._bytes += size
        return True

    def take(self, limit_bytes: int = 256 * 1024) -> str | bytes | None:
        """The next frame to write: every waiting frame joined into one (up to about
        ``limit_bytes``), or None when empty."""
        frames = self.frames
        if len(frames) == 1:  # the usual case: one message since the last write
            self._sizes.clear()
            self._bytes = 0
            return frames.pop()
        if not frames:
            return None
        sizes = self._sizes
        size = sizes[0]
        n = 1
        while n < len(frames) and size + sizes[n] <= limit_bytes:
            size += sizes[n]
            n += 1
        batch = frames[:n]
        del frames[:n]
        del sizes[:n]
        self._bytes -= size
        return join_frames(batch, self.codec)

    def clear(self) -> None:
        self.frames.clear()
        self._sizes.clear()
        self._bytes = 0


def join_frames(frames: list[str | bytes], codec: Codec) -> str | bytes:
    """One frame carrying every message of ``frames`` (each one encoded message)."""
    if len(frames) == 1:
        return frames[0]
    if codec is Codec.JSON:
        return "[" + ",".join(frames) + "]"  # type: ignore[arg-type]
    n = len(frames)
    if n < 16:
        header = bytes([0x90 | n])
    elif n < 1 << 16:
        header = b"\xdc" + struct.pack(">H", n)
    else:
        header = b"\xdd" + struct.pack(">I", n)
    return header + b"".join(frames)  # type: ignore[arg-type]
