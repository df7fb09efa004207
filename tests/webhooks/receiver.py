"""A real webhook receiver for the tests: a Starlette app served by uvicorn on a free loopback
port, in the test's event loop.

It verifies every request's signature with the endpoint's secret (``rooms.webhooks.signing``,
the reference for receivers), answers 500 while ``failing`` is true (or for the first
``fail_first`` attempts of each event id), 200 otherwise, and records everything. Tests await
conditions on what arrived (``wait_for``) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rooms.webhooks.signing import InvalidSignature, verify

__all__ = ["Receipt", "Receiver", "serve_receiver"]


@dataclass(frozen=True)
class Receipt:
    event_id: str
    event_type: str
    attempt: int
    payload: dict[str, Any]
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    secret: str = ""
    failing: bool = False
    fail_first: int = 0
    url: str = ""
    receipts: list[Receipt] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def delivered(self) -> Counter[str]:
        """Event id → how many times it was accepted (answered 2xx)."""
        return Counter(r.event_id for r in self.receipts if r.answered == 200)

    @property
    def failed(self) -> Counter[str]:
        return Counter(r.event_id for r in self.receipts if r.answered != 200)

    def accepted(self) -> list[Receipt]:
        return [r for r in self.receipts if r.answered == 200]

    async def wait_for(self, condition: Callable[[Receiver], bool]) -> None:
        """Until ``condition(self)`` holds (the 60 s limit only guards against a hang)."""
        async with asyncio.timeout(60), self._changed:
            await self._changed.wait_for(lambda: condition(self))

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        try:
            verify(self.secret, request.headers.get("liveclass-signature"), body, now=time.time())
            # ...and as a receiver using a Standard Webhooks verifier library would
            Webhook(self.secret).verify(body, dict(request.headers))
            signature_ok = True
        except (InvalidSignature, WebhookVerificationError):
            signature_ok = False
        payload = json.loads(body)
        event_id = request.headers.get("liveclass-event-id", "")
        earlier = sum(1 for r in self.receipts if r.event_id == event_id)
        fail = self.failing or earlier < self.fail_first or not signature_ok
        status = 500 if fail else 200
        self.receipts.append(
            Receipt(
                event_id=event_id,
                event_type=request.headers.get("liveclass-event-type", ""),
                attempt=int(request.headers.get("liveclass-delivery-attempt", "0")),
                payload=payload,
                signature_ok=signature_ok,
                answered=status,
            )
        )
        async with self._changed:
            self._changed.notify_all()
        return Response("nope" if fail else "ok", status_code=status)


@contextlib.asynccontextmanager
async def serve_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    # Bound and listening before uvicorn starts: requests queue in the backlog meanwhile.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", log_config=None)
    )
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
