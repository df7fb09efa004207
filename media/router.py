"""One room's media on one worker: publishers in, subscribers out, no decoding.

The transport-independent API the media worker drives (it relays ``signal`` messages between
the hub's bus and these calls):

============================================  ==============================================
participant says / event                      worker calls
============================================  ==============================================
``signal {kind: offer}`` to ``sfu``           ``answer = await router.publish(pid, sdp)``
joins (may receive media)                     ``offer = await router.subscribe(pid)`` (None:
                                              nothing to receive yet)
``signal {kind: answer}`` to ``sfu``          ``await router.answer(pid, sdp, offer_id)``
``signal {kind: ice}`` to ``sfu``             ``await router.add_ice(pid, candidate)``
leaves, is kicked                             ``await router.remove(pid)``
the room ends, the worker stops               ``await router.close()``
============================================  ==============================================

Server-initiated offers (tracks appeared or went) reach the worker through the ``on_offer``
callback given to the constructor, called on the event loop as ``on_offer(pid, offer)``; it
must not block (queue the message and return). Every offer to one participant waits for the
answer to the previous one. An offer (:class:`~media.subscriber.Offer`) has an id that the
answer names, so an answer to an offer since replaced is refused (``stale_answer``).
:meth:`Router.tracks_of` says which publisher each m-line carries.

A participant may publish and subscribe at once (two peer connections, like LiveKit); they
never receive their own tracks. Peer connections that fail or close without the router
closing them are torn down; when our side gave up on one (ICE failed, or aioice closed a
connection whose consent checks went unanswered; not when the client hung up) the router
then calls ``on_lost(pid, "publisher" | "subscriber")`` (on the event loop; must not block):
the worker tells the participant to publish again, or offers them the room anew.
``close()`` (and ``remove``) cancel and await every task the router started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Literal, Protocol

from media.aiortc_hooks import peer_hung_up
from media.config import RouterConfig
from media.errors import MediaError
from media.fanout import TrackFanout
from media.publisher import Publisher
from media.room_voices import MediaState, RoomVoices
from media.sdp import parse_candidate
from media.sources import Source
from media.subscriber import Offer, Subscriber
from media.tasks import TaskSet

__all__ = ["Router", "TrackWatcher"]

log = logging.getLogger("liveclass.media.router")

Target = Literal["publisher", "subscriber"]


class TrackWatcher(Protocol):
    """Told when a published track appears or ends (the recorder); must not block."""

    def track_added(self, track: TrackFanout) -> None: ...

    def track_ended(self, track: TrackFanout) -> None: ...


class Router:
    """The selective forwarding unit of one room."""

    def __init__(
        self,
        room_id: str,
        *,
        on_offer: Callable[[str, Offer], None],
        config: RouterConfig | None = None,
        on_lost: Callable[[str, Target], None] | None = None,
        on_media_state: Callable[[MediaState], None] | None = None,
    ) -> None:
        self.room_id = room_id
        self.config = config or RouterConfig()
        self._on_offer = on_offer
        self._on_lost = on_lost
        #: Who speaks and who is muted (told through ``on_media_state`` when it changes).
        self.voices = RoomVoices(on_media_state or (lambda _state: None))
        self._publishers: dict[tuple[str, Source], Publisher] = {}
        self._subscribers: dict[str, Subscriber] = {}
        self._tracks: dict[str, TrackFanout] = {}
        self._watchers: list[TrackWatcher] = []
        self._background = TaskSet()
        self._closed = False

    # -- queries ----------------------------------------------------------------------

    @property
    def tracks(self) -> list[TrackFanout]:
        """The published tracks being forwarded, oldest first."""
        return list(self._tracks.values())

    @property
    def publishers(self) -> dict[str, Publisher]:
        """Each participant's camera publication, by participant id."""
        return {pid: p for (pid, source), p in self._publishers.items() if source == "camera"}

    @property
    def publications(self) -> dict[tuple[str, Source], Publisher]:
        """Every publication (camera or screen), by (participant id, source)."""
        return dict(self._publishers)

    @property
    def subscribers(self) -> dict[str, Subscriber]:
        return dict(self._subscribers)

    def tracks_of(self, participant_id: str) -> list[dict[str, Any]]:
        """For a subscriber: what each m-line of its connection carries (see
        :meth:`media.subscriber.Subscriber.describe`)."""
        subscriber = self._subscribers.get(participant_id)
        return subscriber.describe() if subscriber else []

    def is_pending(self, participant_id: str, offer: Offer) -> bool:
        """Whether ``offer`` is still the one waiting for ``participant_id``'s answer (an offer
        queued before their connection was replaced is not, and must not be sent)."""
        subscriber = self._subscribers.get(participant_id)
        return subscriber is not None and subscriber.pending_offer_id == offer.id

    def stats(self) -> dict[str, Any]:
        """Counters for metrics and the worker's load report."""
        return {
            "publishers": len(self._publishers),
            "subscribers": len(self._subscribers),
            "tracks": [
                {
                    "id": t.track_id,
                    "kind": t.kind,
                    "codec": t.codec.mime_type,
                    "framesIn": t.frames_in,
                    "keyframesIn": t.keyframes_in,
                    "keyframeRequests": t.keyframe_requests_sent,
                    "sinks": len(t.sinks),
                }
                for t in self._tracks.values()
            ],
        }

    # -- signalling -------------------------------------------------------------------

    async def publish(
        self,
        participant_id: str,
        offer_sdp: str,
        *,
        relay: bool = False,
        source: Source = "camera",
        layers: Mapping[str, str] | None = None,
    ) -> str:
        """Answer a participant's offer to send media (first offer or a re-offer). An offer
        from another peer connection than the current one replaces it (its tracks end and
        subscribers are offered the new ones): publishing may stop and start any number of
        times.

        ``relay``: the offer comes from another worker re-sending this room's tracks (see
        :class:`media.publisher.Publisher`); the tracks keep their publishers' names.
        ``source``: a participant publishes a camera and a screen on separate connections.
        ``layers``: mid -> ``low``/``high`` for a camera sent as separate encodings (see
        :mod:`media.layers`).

        Raises :class:`MediaError` (``invalid_sdp``, ``unsupported_media``, ``closed``). A
        first offer that fails leaves nothing behind.
        """
        self._check_open()
        key = (participant_id, source)
        publisher = self._publishers.get(key)
        if publisher is not None and publisher.is_from_another_connection(offer_sdp):
            # A new publishing connection (camera off and on, a device switch, a reload):
            # the old one's tracks end, subscribers renegotiate, then take the new ones.
            log.info("%s of %s in %s: a new connection", source, participant_id, self.room_id)
            del self._publishers[key]
            self._forget_voice(key)
            await self._bounded(publisher.close(), f"{source} publisher {participant_id}")
            publisher = None
        created = publisher is None
        if publisher is None:
            publisher = Publisher(
                participant_id,
                self.config,
                on_track=self._track_added,
                on_track_ended=self._track_ended,
                on_failed=lambda: self._teardown_publisher(key),
                relay=relay,
                source=source,
                on_audio_level=(
                    self.voices.level_of(participant_id)
                    if source == "camera" and not relay
                    else None
                ),
            )
            self._publishers[key] = publisher
        try:
            return await publisher.negotiate(offer_sdp, layers)
        except BaseException:
            if created and self._publishers.get(key) is publisher:
                del self._publishers[key]
                self._forget_voice(key)
                await publisher.close()
            raise

    async def subscribe(self, participant_id: str) -> Offer | None:
        """Start sending the room's media to a participant: the first offer, or None when
        there is nothing to send yet (the offer then comes through ``on_offer``). Calling it
        again for a subscribed participant returns None and changes nothing."""
        self._check_open()
        if participant_id in self._subscribers:
            return None
        subscriber = Subscriber(
            participant_id,
            self.config,
            tracks=lambda: self._tracks.values(),
            on_offer=lambda offer: self._on_offer(participant_id, offer),
            on_failed=lambda: self._teardown_subscriber(participant_id),
        )
        self._subscribers[participant_id] = subscriber
        try:
            return await subscriber.start()
        except BaseException:
            if self._subscribers.get(participant_id) is subscriber:
                del self._subscribers[participant_id]
            await subscriber.close()
            raise

    async def answer(
        self, participant_id: str, answer_sdp: str, offer_id: str | None = None
    ) -> None:
        """The participant's answer to the last offer the router made them; ``offer_id``, when
        given, must be that offer's id (else ``stale_answer``, and nothing changes)."""
        self._check_open()
        subscriber = self._subscribers.get(participant_id)
        if subscriber is None:
            raise MediaError("unknown_participant", f"{participant_id} is not subscribed")
        await subscriber.accept_answer(answer_sdp, offer_id)

    async def add_ice(
        self,
        participant_id: str,
        candidate: Mapping[str, object] | None,
        *,
        target: Target | None = None,
    ) -> None:
        """A trickled ICE candidate from the participant (``RTCIceCandidateInit``; None or an
        empty ``candidate`` ends them).

        ``target`` says which of the participant's connections it belongs to (``publisher``:
        their publishing ones); the candidate's ``usernameFragment`` picks one of them, else
        every connection of the target (without one: all of the participant's) gets it.
        """
        self._check_open()
        parsed = parse_candidate(candidate)
        publishers = [p for (pid, _), p in self._publishers.items() if pid == participant_id]
        subscriber = self._subscribers.get(participant_id)
        if not publishers and subscriber is None:
            raise MediaError("unknown_participant", f"{participant_id} has no connection")
        if parsed.ufrag is not None:
            matching = [p for p in publishers if parsed.ufrag in p.remote_ufrags]
            if matching:
                publishers, target = matching, "publisher"
            elif subscriber is not None and parsed.ufrag in subscriber.remote_ufrags:
                target = "subscriber"
        if target in (None, "publisher"):
            for publisher in publishers:
                await publisher.add_ice(parsed.candidate)
        if target in (None, "subscriber") and subscriber is not None:
            await subscriber.add_ice(parsed.candidate)

    # -- teardown ---------------------------------------------------------------------

    async def remove(self, participant_id: str) -> None:
        """The participant left: close both of their connections (each bounded by
        ``config.close_timeout``, without waiting for a negotiation step in progress); their
        tracks end and every subscriber is offered a renegotiation. Unknown participants are
        ignored."""
        subscriber = self._subscribers.pop(participant_id, None)
        if subscriber is not None:
            await self._bounded(subscriber.close(), f"subscriber {participant_id}")
        await self.unpublish(participant_id)

    async def unsubscribe(self, participant_id: str) -> None:
        """Stop sending to a participant (their receiving connection was replaced): close it;
        what they publish is untouched, and a later :meth:`subscribe` offers anew. Unknown ids
        are ignored."""
        subscriber = self._subscribers.pop(participant_id, None)
        if subscriber is not None:
            await self._bounded(subscriber.close(), f"subscriber {participant_id}")

    async def unpublish(self, participant_id: str, source: Source | None = None) -> None:
        """Stop a participant's publication of ``source`` (they turned their camera off or
        stopped sharing), or every one of theirs (None: their grant was withdrawn): those
        tracks end and subscribers renegotiate; what they receive is untouched. Unknown ids
        are ignored."""
        for key in list(self._publishers):
            if key[0] == participant_id and source in (None, key[1]):
                publisher = self._publishers.pop(key)
                self._forget_voice(key)
                await self._bounded(publisher.close(), f"{key[1]} publisher {participant_id}")

    async def _bounded(self, closing: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await asyncio.wait_for(closing, self.config.close_timeout)
        except TimeoutError:
            log.warning("closing %s of %s timed out: cancelled", what, self.room_id)

    async def close(self) -> None:
        """Close every connection and task. The router refuses everything afterwards."""
        if self._closed:
            return
        self._closed = True
        for participant_id in {*self._subscribers, *(pid for pid, _ in self._publishers)}:
            await self.remove(participant_id)
        # background teardowns are bounded by close_timeout themselves
        await self._background.close(grace=self.config.close_timeout + 1.0)
        await self.voices.close()
        self._tracks.clear()

    def _teardown_publisher(self, key: tuple[str, Source]) -> None:
        """A publishing connection failed or closed by itself (called from aiortc's event):
        close it in the background and report it through ``on_lost``. A publication that
        replaced the lost one meanwhile (alive) is left alone."""
        publisher = self._publishers.get(key)
        if publisher is None or publisher.pc.connectionState not in ("failed", "closed"):
            return
        del self._publishers[key]
        self._forget_voice(key)
        lost = not peer_hung_up(publisher.pc)  # the client hung up: it knows
        self._close_failed(publisher.close(), f"{key[1]} publisher {key[0]}")
        if lost and self._on_lost is not None and not self._closed:
            self._on_lost(key[0], "publisher")

    def _forget_voice(self, key: tuple[str, Source]) -> None:
        if key[1] == "camera":
            self.voices.forget(key[0])

    def set_muted(self, participant_id: str, muted: bool) -> None:
        """The participant muted (or unmuted) the microphone they publish; the room is told.
        Ignored for someone who publishes no camera."""
        if (participant_id, "camera") in self._publishers:
            self.voices.set_muted(participant_id, muted)

    def _teardown_subscriber(self, participant_id: str) -> None:
        """A receiving connection failed or closed by itself (called from aiortc's event):
        close it in the background and report it through ``on_lost``; a live replacement is
        left alone."""
        subscriber = self._subscribers.get(participant_id)
        if subscriber is None or subscriber.pc.connectionState not in ("failed", "closed"):
            return
        del self._subscribers[participant_id]
        lost = not peer_hung_up(subscriber.pc)
        self._close_failed(subscriber.close(), f"subscriber {participant_id}")
        if lost and self._on_lost is not None and not self._closed:
            self._on_lost(participant_id, "subscriber")

    def _close_failed(self, closing: Coroutine[Any, Any, None], what: str) -> None:
        log.info("%s of %s lost", what, self.room_id)
        self._background.spawn(self._bounded(closing, what), name=f"media-close {what}")

    # -- tracks -----------------------------------------------------------------------

    def watch(self, watcher: TrackWatcher) -> None:
        """Tell ``watcher`` about tracks added or ended from now on (see :attr:`tracks` for
        those already there)."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: TrackWatcher) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def _track_added(self, track: TrackFanout) -> None:
        self._tracks[track.track_id] = track
        self._tracks_changed()
        for watcher in tuple(self._watchers):
            watcher.track_added(track)

    def _track_ended(self, track: TrackFanout) -> None:
        if self._tracks.pop(track.track_id, None) is not None:
            self._tracks_changed()
            for watcher in tuple(self._watchers):
                watcher.track_ended(track)

    def _tracks_changed(self) -> None:
        for subscriber in self._subscribers.values():
            subscriber.tracks_changed()

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError("closed", f"the router of {self.room_id} is closed")
