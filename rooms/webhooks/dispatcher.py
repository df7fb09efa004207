"""The webhook dispatcher: claims due deliveries from the outbox and POSTs them, signed.

One runs in every ``liveclass serve`` process (started and stopped by the app's lifespan).
It wakes when this process enqueues an event (:func:`rooms.webhooks.outbox.on_enqueue`) and
otherwise polls every ``poll_interval`` seconds, which is how it sees events written by other
nodes and retries that came due. Claiming is lease-based (:mod:`rooms.webhooks.queue`), so any
number of nodes can run one.

A delivery succeeds on any 2xx answer within ``timeout`` seconds. Redirects are not followed
(a 3xx is a failure) and only ``http``/``https`` URLs are ever requested. On stop, attempts in
flight are allowed to finish (so their result is recorded and not sent twice after a restart)
and unsent claims are released. Once an hour it deletes events older than
``retention_seconds`` whose deliveries are finished (the delivery log keeps 30 days by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import httpx

from rooms.futures import cancel_and_wait
from rooms.store import Database
from rooms.tls import client_tls_context
from rooms.webhooks.outbox import on_enqueue
from rooms.webhooks.queue import AttemptResult, Claimed, DeliveryQueue
from rooms.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    standard_headers,
)

__all__ = ["DeliveryObserver", "Dispatcher"]

log = logging.getLogger("liveclass.webhooks")

_EXCERPT_BYTES = 1024
USER_AGENT = "liveclass-webhooks/1"


class DeliveryObserver(Protocol):
    """Told about every finished attempt (metrics)."""

    def attempted(self, event_type: str, outcome: str, seconds: float) -> None:
        """``outcome``: delivered, retry, dead or lost."""


class Dispatcher:
    def __init__(
        self,
        database: Database,
        queue: DeliveryQueue,
        *,
        timeout: float = 10.0,
        concurrency: int = 8,
        batch: int = 32,
        poll_interval: float = 1.0,
        retention_seconds: float = 30 * 86_400,
        observer: DeliveryObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = database
        self.queue = queue
        self._timeout = timeout
        self._concurrency = asyncio.Semaphore(concurrency)
        self._batch = batch
        self._poll = poll_interval
        self._retention = retention_seconds
        self._next_prune = 0.0
        self._observer = observer
        self._transport = transport
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._unregister: Callable[[], None] | None = None
        self.settled = 0
        self._settled_changed = asyncio.Condition()

    def wake(self) -> None:
        """Look for due deliveries now (called after commits that enqueued events)."""
        self._wake.set()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self._timeout,
            follow_redirects=False,
            transport=self._transport,
            headers={"User-Agent": USER_AGENT},
            # Environment proxies would silently route tenant traffic elsewhere.
            trust_env=False,
            verify=client_tls_context(),
        )
        self._unregister = on_enqueue(self._db, self.wake)
        self._stopping = False
        # The first prune waits a minute: a node (or a test's app) that starts and stops again
        # soon, or a fleet restarted at once, does not scan the log at every boot.
        self._next_prune = self._clock() + 60
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    async def stop(self) -> None:
        """Finish the attempts in flight (at most ``timeout`` more seconds), then stop."""
        self._stopping = True
        self._wake.set()
        if self._unregister is not None:
            self._unregister()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._timeout + 5)
            except TimeoutError:
                await cancel_and_wait(self._task)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                attempted = await self.run_once()
                await self._prune_now_and_then()
            except Exception as exc:  # the database is down: keep polling
                log.warning("webhook dispatcher could not claim: %s", exc.__class__.__name__)
                attempted = 0
            if attempted >= self._batch or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)

    async def _prune_now_and_then(self) -> None:
        # Hourly, per node: finished events older than the retention leave the log.
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + 3600
        cutoff = datetime.fromtimestamp(now - self._retention, UTC)
        while await self.queue.prune(cutoff):
            pass

    async def run_once(self) -> int:
        """Claim one batch and attempt each delivery; returns how many were claimed."""
        claimed = await self.queue.claim(self._batch)
        if claimed:
            await asyncio.gather(*(self._guarded(c) for c in claimed))
        return len(claimed)

    async def _guarded(self, claimed: Claimed) -> None:
        async with self._concurrency:
            try:
                if self._stopping:
                    await self.queue.release(claimed)
                    return
                await self._deliver(claimed)
            except Exception:
                # Its lease runs out and it is retried; never let one delivery stop the loop.
                log.exception("webhook delivery %s failed unexpectedly", claimed.delivery_id)

    async def _deliver(self, claimed: Claimed) -> None:
        result = await self.attempt(claimed)
        outcome = await self.queue.settle(claimed, result)
        log.info(
            "webhook %s %s to endpoint %s attempt %d: %s (%s)",
            claimed.event_type,
            claimed.event_id,
            claimed.endpoint_id,
            claimed.attempt,
            outcome,
            result.status_code if result.status_code is not None else result.error,
        )
        if self._observer is not None:
            self._observer.attempted(claimed.event_type, outcome, result.duration_ms / 1000)
        async with self._settled_changed:
            self.settled += 1
            self._settled_changed.notify_all()

    async def wait_settled(self, count: int) -> None:
        """Until this dispatcher has recorded ``count`` attempts since it was made (tests and
        tools await this instead of polling the log)."""
        async with self._settled_changed:
            await self._settled_changed.wait_for(lambda: self.settled >= count)

    async def attempt(self, claimed: Claimed) -> AttemptResult:
        """POST one delivery, signed now; never raises for network or HTTP failures."""
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        if not claimed.url.startswith(("http://", "https://")):
            return AttemptResult(started_at, 0.0, error="refused: not an http(s) URL")
        now = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(claimed.secret, now, claimed.body),
            **standard_headers(claimed.secret, claimed.event_id, now, claimed.body),
            EVENT_ID_HEADER: claimed.event_id,
            EVENT_TYPE_HEADER: claimed.event_type,
            "Liveclass-Delivery-Id": claimed.delivery_id,
            "Liveclass-Delivery-Attempt": str(claimed.attempt),
        }
        assert self._client is not None, "start() the dispatcher first"
        try:
            async with self._client.stream(
                "POST", claimed.url, content=claimed.body, headers=headers
            ) as response:
                excerpt = await _excerpt(response)
                status: int | None = response.status_code
                error = None
        except httpx.HTTPError as exc:
            status, excerpt = None, None
            error = f"{exc.__class__.__name__}: {exc}"[:500] or exc.__class__.__name__
        duration_ms = (time.perf_counter() - started) * 1000
        return AttemptResult(started_at, duration_ms, status, error, excerpt)


async def _excerpt(response: httpx.Response) -> str | None:
    """The first KiB of the answer, for the delivery log (the rest is not read)."""
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= _EXCERPT_BYTES:
            break
    if not chunks:
        return None
    return chunks[:_EXCERPT_BYTES].decode("utf-8", errors="replace")
