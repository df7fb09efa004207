"""Trimming the C heap once a burst of connections settles (api/heap.py)."""

from __future__ import annotations

import asyncio
import platform

from api.heap import HeapTrimmer, malloc_trim


def test_glibc_s_malloc_trim_is_found_where_it_exists() -> None:
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert malloc_trim is not None
        assert malloc_trim(0) in (0, 1)


async def test_a_burst_is_trimmed_once_after_it_settles() -> None:
    trimmed = asyncio.Event()
    calls: list[int] = []

    def trim(pad: int) -> int:
        calls.append(pad)
        trimmed.set()
        return 1

    loop = asyncio.get_running_loop()
    trimmer = HeapTrimmer(quiet=0.05, longest=10, trim=trim)
    started = loop.time()
    for _ in range(100):
        trimmer.note()
    await asyncio.sleep(0)
    assert not calls  # not before the quiet spell
    async with asyncio.timeout(5):
        await trimmed.wait()
    assert loop.time() - started >= 0.05
    assert calls == [0]
    assert trimmer.trims == 1


async def test_a_long_burst_is_trimmed_every_longest_seconds() -> None:
    trimmed = asyncio.Event()

    def trim(pad: int) -> int:
        trimmed.set()
        return 1

    trimmer = HeapTrimmer(quiet=10, longest=0.05, trim=trim)
    trimmer.note()
    async with asyncio.timeout(5):
        while not trimmed.is_set():  # connections keep coming
            trimmer.note()
            await asyncio.sleep(0.01)
    assert trimmer.trims == 1
    trimmer.cancel()


def test_without_glibc_it_does_nothing() -> None:
    trimmer = HeapTrimmer(trim=None)
    trimmer.note()  # no loop needed: nothing is scheduled
    trimmer.trim_now()
    assert trimmer.trims == 0
