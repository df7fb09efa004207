"""Pinning: the server and the load generator on separate cores when both run here.

The server gets the first core this process may use, the load generators the others (with
two cores: server on one, clients on the other). With one core nothing is pinned.
"""

from __future__ import annotations

import os

__all__ = ["split_cores"]


def split_cores(
    pin: bool, available: list[int] | None = None
) -> tuple[list[int] | None, list[int] | None]:
    """(server cores, client cores), or (None, None) when not pinning."""
    cores = sorted(available if available is not None else os.sched_getaffinity(0))
    if not pin or len(cores) < 2:
        return None, None
    return cores[:1], cores[1:]
