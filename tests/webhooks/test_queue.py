"""The outbox and its claiming, directly on the store, on SQLite and on PostgreSQL: events
commit or roll back with their transaction; concurrent claims never overlap; a lease keeps
other nodes off until it runs out; failures are rescheduled by the backoff, then dead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from api.services import Services
from api.settings import Settings
from rooms.identity import Principal, UserRole
from rooms.store import Database
from rooms.store.tables import WebhookDeliveryRow, WebhookEventRow
from rooms.webhooks import EventType, enqueue
from rooms.webhooks.backoff import Backoff
from rooms.webhooks.inputs import EndpointDraft
from rooms.webhooks.queue import AttemptResult, DeliveryQueue
from tests.conftest import FakeClock

ADMIN = Principal("admin-1", "Ada", UserRole.ADMIN, "acme")


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    # No dispatcher: the tests claim by hand.
    return settings_factory(webhooks_dispatch=False)


async def _endpoint(services: Services, url: str = "http://127.0.0.1:9/hook") -> str:
    row = await services.webhooks.create(ADMIN, EndpointDraft(url=url))
    return row.id


async def _enqueue(database: Database, n: int, tenant: str = "acme") -> list[str]:
    ids = []
    async with database.transaction() as tx:
        for i in range(n):
            eid = await enqueue(tx, tenant, EventType.SESSION_STARTED, {"n": i})
            assert eid is not None
            ids.append(eid)
    return ids


async def _count(database: Database, table: type[WebhookEventRow | WebhookDeliveryRow]) -> int:
    async with database.transaction() as tx:
        return int(await tx.scalar(select(func.count()).select_from(table)) or 0)


def _result(clock: FakeClock, status: int | None) -> AttemptResult:
    from datetime import UTC, datetime

    return AttemptResult(datetime.fromtimestamp(clock(), UTC), 1.0, status_code=status)


async def test_events_commit_and_roll_back_with_their_transaction(services: Services) -> None:
    db = services.database
    # No endpoint: nothing is written.
    async with db.transaction() as tx:
        assert await enqueue(tx, "acme", EventType.SESSION_STARTED, {}) is None
    await _endpoint(services)

    async def failing_change() -> None:
        async with db.transaction() as tx:
            assert await enqueue(tx, "acme", EventType.SESSION_STARTED, {}) is not None
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await _count(db, WebhookEventRow) == 0
    assert await _count(db, WebhookDeliveryRow) == 0
    await _enqueue(db, 2)
    # Another tenant's events never go to acme's endpoints.
    async with db.transaction() as tx:
        assert await enqueue(tx, "globex", EventType.SESSION_STARTED, {}) is None
    assert await _count(db, WebhookEventRow) == 2
    assert await _count(db, WebhookDeliveryRow) == 2


async def test_concurrent_claims_take_disjoint_rows_and_all_of_them(services: Services) -> None:
    db = services.database
    await _endpoint(services)
    await _endpoint(services, "http://127.0.0.1:9/second")
    await _enqueue(db, 30)  # 60 deliveries
    queues = [DeliveryQueue(db, node=f"node-{i}") for i in range(4)]
    claimed: list[str] = []
    while True:
        batches = await asyncio.gather(*(q.claim(7) for q in queues))
        taken = [c.delivery_id for batch in batches for c in batch]
        if not taken:
            break
        claimed += taken
    assert len(claimed) == 60
    assert len(set(claimed)) == 60


async def test_a_lease_keeps_other_nodes_off_until_it_runs_out(services: Services) -> None:
    db = services.database
    await _endpoint(services)
    await _enqueue(db, 1)
    clock = FakeClock()
    a = DeliveryQueue(db, node="a", lease_seconds=30, clock=clock)
    b = DeliveryQueue(db, node="b", lease_seconds=30, clock=clock)
    [first] = await a.claim(10)
    assert first.attempt == 1
    assert await b.claim(10) == []
    clock.advance(31)  # node a died mid-attempt
    [again] = await b.claim(10)
    assert again.delivery_id == first.delivery_id
    assert again.event_id == first.event_id
    assert again.attempt == 1  # a's attempt never completed
    # a comes back and reports: b holds the lease now, so a's result does not count.
    assert await a.settle(first, _result(clock, 200)) == "lost"
    assert await b.settle(again, _result(clock, 200)) == "delivered"
    clock.advance(3600)
    assert await a.claim(10) == []
    assert await b.claim(10) == []


async def test_an_endpoint_deleted_mid_attempt_settles_quietly(services: Services) -> None:
    """The delivery (and its attempt log) went with the endpoint: settling it is "lost",
    not a foreign-key error with a traceback in the log."""
    db = services.database
    endpoint = await _endpoint(services)
    await _enqueue(db, 1)
    clock = FakeClock()
    queue = DeliveryQueue(db, node="a", lease_seconds=30, clock=clock)
    [claimed] = await queue.claim(10)
    await services.webhooks.delete(ADMIN, endpoint)
    assert await queue.settle(claimed, _result(clock, None)) == "lost"
    assert await _count(db, WebhookDeliveryRow) == 0


async def test_failures_back_off_then_die(services: Services) -> None:
    db = services.database
    await _endpoint(services)
    await _enqueue(db, 1)
    clock = FakeClock()
    backoff = Backoff(base_seconds=10, cap_seconds=15, max_attempts=3)
    queue = DeliveryQueue(db, node="a", backoff=backoff, clock=clock, rng=lambda: 0.999)
    [c1] = await queue.claim(1)
    assert await queue.settle(c1, _result(clock, 503)) == "retry"
    clock.advance(4.9)  # delay after attempt 1 is in [5, 10)
    assert await queue.claim(1) == []
    clock.advance(5.1)
    [c2] = await queue.claim(1)
    assert c2.attempt == 2
    assert await queue.settle(c2, _result(clock, None)) == "retry"
    clock.advance(15)  # capped at 15
    [c3] = await queue.claim(1)
    assert await queue.settle(c3, _result(clock, 400)) == "dead"
    clock.advance(10_000)
    assert await queue.claim(1) == []
    assert await queue.pending_count() == 0
    detail = await services.webhooks.delivery(ADMIN, c1.delivery_id)
    assert detail.delivery.status == "dead"
    assert [a.status_code for a in detail.attempts] == [503, None, 400]


async def test_disabled_endpoints_are_not_claimed(services: Services) -> None:
    from rooms.webhooks.inputs import EndpointPatch

    db = services.database
    eid = await _endpoint(services)
    await _enqueue(db, 1)
    await services.webhooks.update(ADMIN, eid, EndpointPatch(enabled=False))
    queue = DeliveryQueue(db, node="a")
    assert await queue.claim(5) == []
    assert await queue.pending_count() == 1
    await services.webhooks.update(ADMIN, eid, EndpointPatch(enabled=True))
    assert len(await queue.claim(5)) == 1


async def test_finished_events_are_pruned_after_the_retention(services: Services) -> None:
    from datetime import timedelta

    db = services.database
    await _endpoint(services)
    await _enqueue(db, 3)
    clock = FakeClock()
    queue = DeliveryQueue(db, node="a", clock=clock, backoff=Backoff(max_attempts=1))
    first, second, _third = await queue.claim(3)
    assert await queue.settle(first, _result(clock, 200)) == "delivered"
    assert await queue.settle(second, _result(clock, 500)) == "dead"
    # Not old enough yet.
    assert await queue.prune(queue.now() - timedelta(days=1)) == 0
    # Old enough: the delivered and the dead go (with their attempts); the pending stays.
    assert await queue.prune(queue.now() + timedelta(seconds=1)) == 2
    assert await _count(db, WebhookEventRow) == 1
    assert await _count(db, WebhookDeliveryRow) == 1
    assert await queue.pending_count() == 1
