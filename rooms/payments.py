"""Checking the payment an enrollment in a paid session names.

liveclass processes no payments: the platform's payment provider does, and the enrollment
names the payment (``paymentId``, ``paymentGateway``, ``amountPaid``). What liveclass refuses
on its own (in :mod:`rooms.enrollment`): a paid session without a ``paymentId`` (402
``payment_required``), an ``amountPaid`` below the price (402 ``payment_insufficient``), one
``paymentId`` for two enrollments (409 ``payment_reused``); a missing ``amountPaid`` is
recorded as unknown (null), never as the price.

The platform can have every payment verified with its provider: with
``LIVECLASS_PAYMENT_VERIFY_URL`` set, :class:`HttpPaymentVerifier` POSTs each one before the
enrollment is written::

    POST <url>   Liveclass-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
    {"paymentId", "paymentGateway", "amountPaid", "currency", "price", "userId",
     "sessionId", "tenant"}

and the platform answers ``200 {"verified": true, "amount": 25.0, "currency": "EUR"}`` (the
amount and currency the provider settled) or ``{"verified": false}``. Unverified payments are
402 ``payment_not_verified``; a verified amount below the price is ``payment_insufficient``;
the verified amount is what the enrollment records. A verifier that cannot be reached or
answers anything else is 503 ``payment_verifier_unavailable`` (no enrollment is written).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

import httpx

from rooms.errors import Unavailable
from rooms.tls import client_tls_context
from rooms.webhooks.signing import signature_header

__all__ = ["HttpPaymentVerifier", "PaymentCheck", "PaymentVerifier", "VerifiedPayment"]


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    paymentId: str
    paymentGateway: str | None
    amountPaid: float | None
    currency: str | None
    price: float
    userId: str
    sessionId: str
    tenant: str


@dataclass(frozen=True, slots=True)
class VerifiedPayment:
    verified: bool
    amount: Decimal | None = None
    currency: str | None = None


class PaymentVerifier(Protocol):
    async def verify(self, check: PaymentCheck) -> VerifiedPayment: ...


class HttpPaymentVerifier:
    """Asks the platform's verification endpoint about each payment (see the module)."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._transport = transport

    async def verify(self, check: PaymentCheck) -> VerifiedPayment:
        body = json.dumps(asdict(check)).encode()
        headers = {
            "Content-Type": "application/json",
            "Liveclass-Signature": signature_header(self._secret, int(time.time()), body),
            "User-Agent": "liveclass-payments/1",
        }
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout,
                transport=self._transport,
                trust_env=False,
                verify=client_tls_context(),
            ) as client:
                response = await client.post(self._url, content=body, headers=headers)
            answer = response.json() if response.status_code == 200 else None
            if not isinstance(answer, dict) or not isinstance(answer.get("verified"), bool):
                raise ValueError(f"unexpected answer {response.status_code}")
            amount = answer.get("amount")
            currency = answer.get("currency")
            return VerifiedPayment(
                verified=answer["verified"],
                amount=Decimal(str(amount)) if amount is not None else None,
                currency=str(currency) if currency is not None else None,
            )
        except (httpx.HTTPError, ValueError, InvalidOperation) as exc:
            raise Unavailable(
                "the payment could not be verified right now; try again",
                code="payment_verifier_unavailable",
            ) from exc
