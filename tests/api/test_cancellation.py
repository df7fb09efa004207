"""Cancelling a class (issue 15, lifecycle 4): its enrollments are cancelled with it, the
paid ones marked refund-due, and the platform is told with the enrollments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from api.services import Services
from rooms.store.tables import EnrollmentRow
from tests.api.helpers import recorded_events, subscribe
from tests.conftest import People


async def test_cancelling_cancels_enrollments_and_tells_the_platform(
    client: httpx.AsyncClient,
    people: People,
    new_session: Callable[..., Any],
    services: Services,
) -> None:
    await subscribe(client, people.admin, "session.cancelled")
    paid = await new_session(price=25, currency="EUR")
    free = await new_session(title="Free one")
    for sid in (paid["id"], free["id"]):
        body = {"paymentId": "pay_1", "amountPaid": 25} if sid == paid["id"] else {}
        enrolled = await client.post(
            f"/api/v1/sessions/{sid}/enroll", json=body, headers=people.student
        )
        assert enrolled.status_code == 201, enrolled.text

    for sid in (paid["id"], free["id"]):
        cancelled = await client.post(f"/api/v1/sessions/{sid}/cancel", headers=people.teacher)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["enrolledCount"] == 0

    async with services.database.transaction() as tx:
        rows = {r.session_id: r for r in (await tx.execute(select(EnrollmentRow))).scalars()}
    events = await recorded_events(services.database, "session.cancelled")
    assert {sid: (r.status, r.refund_due) for sid, r in rows.items()} == {
        paid["id"]: ("cancelled", True),
        free["id"]: ("cancelled", False),
    }
    by_session = {e["session"]["id"]: e["enrollments"] for e in events}
    [owed] = by_session[paid["id"]]
    assert (owed["userId"], owed["status"], owed["refundDue"]) == ("student-1", "cancelled", True)
    assert (owed["paymentId"], owed["amountPaid"]) == ("pay_1", 25.0)
    assert by_session[free["id"]][0]["refundDue"] is False

    # nothing active is left: the student's bookings are empty and nobody is enrolled
    bookings = await client.get("/api/v1/me/bookings", headers=people.student)
    assert bookings.json()["total"] == 0
    again = await client.post(f"/api/v1/sessions/{free['id']}/enroll", headers=people.student)
    assert again.status_code == 409
