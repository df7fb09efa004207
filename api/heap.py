"""Giving the C heap's free memory back to the system once a burst of connections settles.

A class joins at once: hundreds of handshakes, token checks, admissions and welcomes in a
second or two. What they needed at the peak is freed, but glibc's allocator keeps freed
pages in its heap, so the process's RSS stays at the peak's size while the class sits idle
(issue 18: memory per idle connection). :class:`HeapTrimmer` waits until no connection
opened or closed for ``quiet`` seconds, then calls glibc's ``malloc_trim(0)``, which returns
every free page of every arena (what long-running servers do after a burst). One trim of
liveclass's heap takes well under a millisecond; it runs at most once per burst (and at
least every ``longest`` seconds while connections keep coming). Without glibc (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

__all__ = ["HeapTrimmer", "malloc_trim"]

log = logging.getLogger("liveclass.heap")


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


#: glibc's ``malloc_trim(pad)`` (returns 1 when memory was released), or None without glibc.
malloc_trim = _load_malloc_trim()


class HeapTrimmer:
    """Call :meth:`note` when a connection opens or closes; the heap is trimmed once
    activity paused for ``quiet`` seconds (or ``longest`` seconds after the first unnoted
    activity, whichever comes first). Must be used from the event loop's thread."""

    def __init__(
        self,
        *,
        quiet: float = 0.25,
        longest: float = 5.0,
        trim: Callable[[int], int] | None = malloc_trim,
    ) -> None:
        self.quiet = quiet
        self.longest = longest
        self._trim = trim
        self._timer: asyncio.TimerHandle | None = None
        self._first = 0.0
        self._last = 0.0
        #: How many times the heap was trimmed (for tests and diagnostics).
        self.trims = 0

    def note(self) -> None:
        """A connection opened or closed: trim once things settle."""
        if self._trim is None:
            return
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        if self._timer is None:
            self._first = self._last
            self._timer = loop.call_at(self._last + min(self.quiet, self.longest), self._due)

    def _due(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        settled_at = self._last + self.quiet
        if now < settled_at and now < self._first + self.longest:
            self._timer = loop.call_at(min(settled_at, self._first + self.longest), self._due)
            return
        self._timer = None
        self.trim_now()

    def trim_now(self) -> None:
        """Return the heap's free pages to the system now."""
        if self._trim is None:
            return
        self._trim(0)
        self.trims += 1

    def cancel(self) -> None:
        """Forget a pending trim (the server is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
