"""Real aiortc peers that negotiate with the SFU the way a browser does: through the hub.

A :class:`HubPeer` owns a hub client (the package's RoomClient, or the in-process
harness's) and, like the browser
client, two RTCPeerConnections: one it subscribes with (the SFU offers, it answers) and, once
it publishes, one it publishes with (it offers, the SFU answers). It sends ``signal`` messages
``to: "sfu"`` and handles what comes back ``from: "sfu"``. Everything it decodes is counted;
``until`` waits, bounded, for a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from media.aiortc_hooks import host_addresses
from media.tasks import cancel_and_wait
from media.worker import MediaWorker
from signaling.client import RoomClient
from signaling.hub import Hub
from tests.conftest import People
from tests.media.peers import LOOPBACK, PatternVideoTrack, ToneAudioTrack, client_pc
from tests.signaling.harness import Client, connect


class Signalling(Protocol):
    """What a peer needs of its connection to the hub: the package's
    :class:`~signaling.client.RoomClient` over a real WebSocket, or the in-process harness
    client."""

    async def send(self, message: dict[str, Any]) -> None: ...

    async def next(
        self, match: Callable[[dict[str, Any]], bool] | None = None, within: float = ...
    ) -> dict[str, Any]: ...


@asynccontextmanager
async def room_clients(*urls: str) -> AsyncIterator[list[RoomClient]]:
    """A connected :class:`RoomClient` per join URL (token included), closed afterwards."""
    clients: list[RoomClient] = []
    try:
        for url in urls:
            clients.append(await RoomClient.connect(url))
        yield clients
    finally:
        for client in clients:
            await client.close()


class HubPeer:
    def __init__(self, client: Signalling) -> None:
        self.client = client
        self.pc = self._receiving_pc()
        self.pub_pc: RTCPeerConnection | None = None
        self.restarts = 0
        #: The ``reason`` of every ``restart`` the SFU sent, in order.
        self.restart_reasons: list[str | None] = []
        #: The SFU's answers to our publishing offers, as received.
        self.answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._publications = 0
        self.errors: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.offers_answered = 0
        #: Every offer the SFU sent, as received.
        self.sfu_offers: list[dict[str, Any]] = []
        #: The SFU connection our receiving connection negotiates with (its offers'
        #: ``connectionId``); None until the first offer after a (re)start.
        self.sub_connection: str | None = None
        #: While a list, the SFU's signals are kept here instead of handled (a test reorders
        #: them, as a network could); :meth:`handle` then handles them.
        self.held_signals: list[dict[str, Any]] | None = None
        #: While a list, answers to the SFU's offers are kept here instead of sent (a test
        #: delays them to cross a restart); :meth:`release_answers` sends them, in order.
        self.held_answers: list[dict[str, Any]] | None = None
        self.connected_at: float | None = None
        self.first_video_at: float | None = None
        self.video_frames = 0
        self.audio_frames = 0
        self.track_ids: list[str] = []
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[Any]] = []

        self._tasks.append(asyncio.ensure_future(self._signals()))

    def _receiving_pc(self) -> RTCPeerConnection:
        pc = client_pc()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()
            self._tasks.append(asyncio.ensure_future(self._notify()))

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self.track_ids.append(track.id)
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        return pc

    def _restart(self) -> None:
        """The SFU lost our connections: start over, as a browser client does. The
        receiving connection is replaced before the next message is handled (the SFU's
        next offer, which may be in the same frame, is for the new one); closing the old one
        and publishing again go on in the background."""
        old, self.pc = self.pc, self._receiving_pc()
        self.sub_connection = None
        self._tasks.append(asyncio.ensure_future(self._start_over(old)))

    async def _start_over(self, old: RTCPeerConnection) -> None:
        await old.close()
        if self.pub_pc is not None:
            await self.pub_pc.close()
            await self.publish()
        self.restarts += 1
        await self._notify()

    async def request_restart(self) -> None:
        """Our connections broke (a network change, say): ask the SFU to start over."""
        await self.pc.close()
        self.pc = self._receiving_pc()
        self.sub_connection = None
        await self.client.send({"type": "signal", "to": "sfu", "kind": "restart"})
        if self.pub_pc is not None:
            await self.pub_pc.close()
            await self.publish()
        self.restarts += 1

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    async def until_frames(self, video: int, audio: int, within: float) -> None:
        """Until it has decoded at least ``video`` video and ``audio`` audio frames in all."""
        await self.until(lambda: self.video_frames >= video and self.audio_frames >= audio, within)

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    if self.first_video_at is None:
                        self.first_video_at = time.monotonic()
                    self.video_frames += 1
                else:
                    self.audio_frames += 1
                await self._notify()

    async def _signals(self) -> None:
        # The only reader of the connection: what is not for the SFU goes to ``messages``.
        while True:
            message = await self.client.next(None, within=3600)
            if message["type"] == "error":
                self.errors.append(message)
            elif message["type"] == "signal" and message.get("from") == "sfu":
                if self.held_signals is not None:
                    self.held_signals.append(message)
                else:
                    await self.handle(message)
            else:
                self.messages.append(message)
            await self._notify()

    async def handle(self, *messages: dict[str, Any]) -> None:
        """Handle SFU signals, in this order."""
        for message in messages:
            try:
                await self._sfu_signal(message)
            except Exception as exc:  # an offer for a connection closed meanwhile
                self.failures.append(repr(exc))
            await self._notify()

    async def _sfu_signal(self, message: dict[str, Any]) -> None:
        if message["kind"] == "restart":
            self.restart_reasons.append(message.get("reason"))
            self._restart()
        elif message["kind"] == "answer":
            self.answers.put_nowait(message)
        elif message["kind"] == "offer":
            self.sfu_offers.append(message)
            connection = message.get("connectionId")
            if connection != self.sub_connection and self.sub_connection is not None:
                # The SFU replaced its side: a new server connection needs a new client one
                # (an offer of the old one may have arrived after our restart).
                old, self.pc = self.pc, self._receiving_pc()
                self._tasks.append(asyncio.ensure_future(old.close()))
            self.sub_connection = connection
            pc = self.pc
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            with host_addresses(LOOPBACK):
                await pc.setLocalDescription(await pc.createAnswer())
            if pc is not self.pc:
                return  # replaced meanwhile (request_restart): the SFU offers the new one
            answer = {
                "type": "signal",
                "to": "sfu",
                "kind": "answer",
                "sdp": pc.localDescription.sdp,
            }
            if "offerId" in message:
                answer["offerId"] = message["offerId"]
            if self.held_answers is not None:
                self.held_answers.append(answer)
            else:
                await self.client.send(answer)
            self.offers_answered += 1

    async def release_answers(self) -> None:
        """Send the answers held so far, in order, and stop holding them."""
        held, self.held_answers = self.held_answers or [], None
        for answer in held:
            await self.client.send(answer)

    async def message(
        self, predicate: Callable[[dict[str, Any]], bool], within: float
    ) -> dict[str, Any]:
        """The first message (not an SFU signal, not an error) for which ``predicate`` holds."""
        await self.until(lambda: any(predicate(m) for m in self.messages), within)
        return next(m for m in self.messages if predicate(m))

    async def publish(self, *, layered: bool = False) -> str:
        """Send generated video and audio on a new connection: offer to the SFU (with an
        ``offerId``), apply the answer that echoes it. ``layered``: a second video track,
        named with the first in the offer's ``layers`` (``low`` and ``high``)."""
        pc = self.pub_pc = client_pc()
        low = pc.addTransceiver(PatternVideoTrack(), direction="sendonly") if layered else None
        high = pc.addTransceiver(PatternVideoTrack(), direction="sendonly")
        pc.addTrack(ToneAudioTrack())
        with host_addresses(LOOPBACK):
            await pc.setLocalDescription(await pc.createOffer())
        self._publications += 1
        offer_id = f"pub-{self._publications}"
        offer: dict[str, Any] = {
            "type": "signal",
            "to": "sfu",
            "kind": "offer",
            "offerId": offer_id,
            "sdp": pc.localDescription.sdp,
        }
        if low is not None:
            offer["layers"] = {str(low.mid): "low", str(high.mid): "high"}
        await self.client.send(offer)
        while True:
            answer = await asyncio.wait_for(self.answers.get(), 90)
            if answer.get("offerId") == offer_id:
                break
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        return str(answer["sdp"])

    async def unpublish(self) -> None:
        """Camera off: close the publishing connection and tell the SFU."""
        if self.pub_pc is not None:
            await self.pub_pc.close()
            self.pub_pc = None
        await self.client.send({"type": "signal", "to": "sfu", "kind": "unpublish"})

    async def publish_refused(self) -> dict[str, Any]:
        """Offer to publish and expect the SFU's error (no publish grant): returns it."""
        pc = client_pc()
        try:
            pc.addTrack(PatternVideoTrack())
            with host_addresses(LOOPBACK):
                await pc.setLocalDescription(await pc.createOffer())
            seen = len(self.errors)
            await self.client.send(
                {"type": "signal", "to": "sfu", "kind": "offer", "sdp": pc.localDescription.sdp}
            )
            await self.until(lambda: len(self.errors) > seen, 15)
            return self.errors[-1]
        finally:
            await pc.close()

    async def close(self) -> None:
        # A loaded machine (aiortc decoding on both cores) can take long to run a cancelled
        # task to its end: cancel again and keep waiting, up to a bound that only a task
        # which really refuses to stop reaches; then say where it is instead of hanging.
        pending = {task for task in self._tasks if not task.done()}
        deadline = asyncio.get_running_loop().time() + 120
        while pending and asyncio.get_running_loop().time() < deadline:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=5)
        assert not pending, [(t, t.get_stack()) for t in pending]
        await self.pc.close()
        if self.pub_pc is not None:
            await self.pub_pc.close()


async def join(client: httpx.AsyncClient, hub: Hub, sid: str, who: dict[str, str]) -> Client:
    """A participant on ``hub`` with a room token from the REST API; ``welcome`` read."""
    response = await client.post(f"/api/v1/sessions/{sid}/token", headers=who)
    assert response.status_code == 200, response.text
    c, admitted = await connect(hub, response.json()["token"])
    assert admitted
    c.welcome = await c.next("welcome")
    return c


async def teacher_and_student(
    client: httpx.AsyncClient, hub: Hub, sid: str, people: People, peers: list[HubPeer]
) -> tuple[HubPeer, HubPeer]:
    """The teacher and a student joined on ``hub`` (added to ``peers``), the teacher
    publishing."""
    teacher = HubPeer(await join(client, hub, sid, people.teacher))
    student = HubPeer(await join(client, hub, sid, people.student))
    peers += [teacher, student]
    await teacher.publish()
    return teacher, student


def pid(c: Signalling) -> Any:
    """The participant id an in-process hub client was given."""
    assert isinstance(c, Client)
    return c.welcome["participant"]["id"]


async def crash(worker: MediaWorker) -> None:
    """Everything a killed worker process loses, and nothing it would have said on the way
    out: no retire, no release."""
    await worker._tasks.close()
    for room in worker.rooms.values():
        if room.task is not None:
            await cancel_and_wait(room.task)
        await room.router.close()
    worker.rooms.clear()
    with contextlib.suppress(Exception):
        await worker._bus.close()
    worker._stopped = True
