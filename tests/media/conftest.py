"""Every media test must close what it opens: a socket or transport left unclosed (aiortc's
ICE sockets, for instance) fails the test that leaked it.

Python reports those from ``__del__`` as ResourceWarnings, which the suite's warning filter
turns into unraisable exceptions (and the project's config then ignores): the fixture watches
the unraisable hook while the test runs and after a final garbage collection.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_leaked_sockets() -> Iterator[None]:
    leaks: list[str] = []
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, ResourceWarning):
            leaks.append(str(unraisable.exc_value))
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert not leaks, f"left open: {leaks}"
