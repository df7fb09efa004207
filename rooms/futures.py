"""Resolving the futures that callers of a batching writer wait on."""

from __future__ import annotations

import asyncio

__all__ = ["settle"]


def settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    """Resolve ``done`` with ``error`` (None: success) unless it already is. A set exception
    is marked retrieved, so a caller that went away leaves no "never retrieved" warning."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
        done.exception()
