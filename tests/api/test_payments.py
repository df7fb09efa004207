"""Payments of paid enrollments (issue 15, lifecycle 5): inconsistent payment data is refused,
nothing is invented, and the platform's verification hook decides when it is configured."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from api.services import Services
from rooms.enrollment import EnrollmentService
from rooms.payments import HttpPaymentVerifier
from rooms.webhooks.signing import verify
from tests.conftest import People, bearer


async def enroll(client: httpx.AsyncClient, sid: str, who: dict[str, str], **body: Any) -> Any:
    return await client.post(f"/api/v1/sessions/{sid}/enroll", json=body, headers=who)


async def test_inconsistent_payments_are_refused_and_nothing_is_invented(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    sid = (await new_session(price=25, currency="EUR"))["id"]
    low = await enroll(client, sid, people.student, paymentId="pay_1", amountPaid=5)
    assert low.status_code == 402
    assert low.json()["error"]["code"] == "payment_insufficient"

    stated = await enroll(client, sid, people.student, paymentId="pay_1")
    assert stated.status_code == 201, stated.text
    assert stated.json()["amountPaid"] is None  # not stated: unknown, never the price

    reused = await enroll(client, sid, people.student2, paymentId="pay_1", amountPaid=25)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "payment_reused"
    other = (await new_session(title="Other", price=25, currency="EUR"))["id"]
    elsewhere = await enroll(client, other, people.student, paymentId="pay_1", amountPaid=25)
    assert elsewhere.json()["error"]["code"] == "payment_reused"

    # one's own payment again after unenrolling is fine
    await client.delete(f"/api/v1/sessions/{sid}/enroll", headers=people.student)
    again = await enroll(client, sid, people.student, paymentId="pay_1", amountPaid=25)
    assert again.status_code == 201, again.text
    assert again.json()["amountPaid"] == 25.0


async def test_the_verification_hook_decides(
    client: httpx.AsyncClient,
    people: People,
    new_session: Callable[..., Any],
    services: Services,
) -> None:
    settled: dict[str, Any] = {"pay_ok": {"verified": True, "amount": 30, "currency": "EUR"}}
    asked: list[dict[str, Any]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        body = request.content
        verify("hook-secret", request.headers["Liveclass-Signature"], body, now=time.time())
        check = json.loads(body)
        asked.append(check)
        if check["paymentId"] == "pay_down":
            return httpx.Response(503)
        return httpx.Response(200, json=settled.get(check["paymentId"], {"verified": False}))

    verifier = HttpPaymentVerifier(
        "https://platform.example/verify", "hook-secret", transport=httpx.MockTransport(provider)
    )
    services.enrollment = EnrollmentService(services.database, verifier)
    sid = (await new_session(price=25, currency="EUR"))["id"]

    forged = await enroll(client, sid, people.student, paymentId="pay_forged", amountPaid=25)
    assert (forged.status_code, forged.json()["error"]["code"]) == (402, "payment_not_verified")
    down = await enroll(client, sid, people.student, paymentId="pay_down", amountPaid=25)
    assert (down.status_code, down.json()["error"]["code"]) == (
        503,
        "payment_verifier_unavailable",
    )
    ok = await enroll(client, sid, people.student, paymentId="pay_ok", paymentGateway="stripe")
    assert ok.status_code == 201, ok.text
    assert ok.json()["amountPaid"] == 30.0  # what the provider settled
    assert asked[-1] == {
        "paymentId": "pay_ok",
        "paymentGateway": "stripe",
        "amountPaid": None,
        "currency": "EUR",
        "price": 25.0,
        "userId": "student-1",
        "sessionId": sid,
        "tenant": "acme",
    }
    free = (await new_session(title="Free"))["id"]
    assert (await enroll(client, free, bearer("student-3"))).status_code == 201
    assert len(asked) == 3  # free sessions are not asked about


async def test_a_seat_from_the_waitlist_is_paid_for_by_enrolling_again(
    client: httpx.AsyncClient, people: People, new_session: Callable[..., Any]
) -> None:
    sid = (await new_session(price=25, currency="EUR", maxParticipants=1))["id"]
    first = await enroll(client, sid, people.student, paymentId="pay_a", amountPaid=25)
    assert first.status_code == 201
    waiting = await client.post(f"/api/v1/sessions/{sid}/waitlist", headers=people.student2)
    assert waiting.status_code == 201, waiting.text
    await client.delete(f"/api/v1/sessions/{sid}/enroll", headers=people.student)
    promoted = await enroll(client, sid, people.student2)  # duplicate-safe: the promoted seat
    assert (promoted.status_code, promoted.json()["paymentId"]) == (200, None)
    low = await enroll(client, sid, people.student2, paymentId="pay_b", amountPaid=1)
    assert low.json()["error"]["code"] == "payment_insufficient"
    paid = await enroll(client, sid, people.student2, paymentId="pay_b", amountPaid=25)
    assert paid.status_code == 200, paid.text
    assert (paid.json()["id"], paid.json()["paymentId"]) == (promoted.json()["id"], "pay_b")
    assert paid.json()["amountPaid"] == 25.0
