"""The composition of one liveclass process: every component, built from the settings.

Built by the app's lifespan (``api/app.py``) and closed when it ends; handlers reach it as
``request.app.state.services``. Each component receives only its slice of the settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis

from api.auth import Authenticator
from api.room_parts import RoomParts, chat_service, room_parts
from api.settings import Settings
from media.recording_worker import RecordingDesk
from media.worker import MediaWorker
from rooms.attendance import AttendanceService
from rooms.bans import Bans
from rooms.bus import RoomBus
from rooms.bus_port import Bus
from rooms.chat import ChatService
from rooms.enrollment import EnrollmentService
from rooms.feedback import FeedbackService
from rooms.futures import cancel_and_wait
from rooms.local_bus import LocalBroker, LocalBus
from rooms.local_room_state import LocalRoomState
from rooms.media_registry import MediaRegistry
from rooms.participation import RestParticipation, RoomAdmitter
from rooms.payments import HttpPaymentVerifier, PaymentVerifier
from rooms.presence import LocalPresence, Presence, RedisPresence
from rooms.recordings import RecordingService
from rooms.redis_client import close_redis, connect_redis
from rooms.reminders import send_due_reminders
from rooms.schedules import ScheduleService
from rooms.server_recordings import ServerRecordings
from rooms.sessions import SessionService
from rooms.signing import LinkSigner
from rooms.store import Database, create_database, upgrade_database
from rooms.store.types import utcnow
from rooms.tokens import RoomTokens
from rooms.waitlist import WaitlistService
from rooms.webhooks.admin import WebhookAdmin
from rooms.webhooks.dispatcher import DeliveryObserver, Dispatcher
from rooms.webhooks.queue import DeliveryQueue
from signaling.hub import Hub, new_node_id
from signaling.metrics import HubMetrics

__all__ = ["Services", "bus_factory", "open_services", "presence_for"]

log = logging.getLogger("liveclass")


@dataclass(slots=True)
class Services:
    settings: Settings
    database: Database
    redis: Redis
    authenticator: Authenticator
    presence: Presence
    sessions: SessionService
    enrollment: EnrollmentService
    feedback: FeedbackService
    attendance: AttendanceService
    participation: RestParticipation
    chat: ChatService
    recordings: RecordingService
    room_tokens: RoomTokens
    links: LinkSigner
    hub: Hub
    bans: Bans
    media_registry: MediaRegistry
    webhooks: WebhookAdmin
    webhook_queue: DeliveryQueue
    server_recordings: ServerRecordings
    schedules: ScheduleService
    waitlist: WaitlistService
    #: A new bus on this process's transport (``bus_factory``): what tests and extra
    #: components subscribe with to hear what the hub publishes.
    new_bus: Callable[[], Bus]
    parts: RoomParts
    webhook_dispatcher: Dispatcher | None = None
    media_worker: MediaWorker | None = None
    recording_sweeper: asyncio.Task[None] | None = None
    reminder_loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background work (the hub's bus listener, heartbeat and sweep; the
        webhook dispatcher)."""
        await self.hub.start()
        if self.media_worker is not None:
            await self.media_worker.start()
            log.info("media worker %s runs in this process", self.media_worker.worker_id)
        if self.webhook_dispatcher is not None:
            await self.webhook_dispatcher.start()
        self.recording_sweeper = asyncio.get_running_loop().create_task(
            self._sweep_recordings(), name="recording-sweeper"
        )
        if self.settings.reminder_lead_minutes > 0:
            self.reminder_loop = asyncio.get_running_loop().create_task(
                self._send_reminders(), name="reminders"
            )

    async def _send_reminders(self) -> None:
        """Send the start reminders that came due (see rooms/reminders.py)."""
        lead = timedelta(minutes=self.settings.reminder_lead_minutes)
        while True:
            # Sleep first, like the recording sweeper: a process that starts and stops at
            # once (tests, a failed start) never has a query in flight when it closes.
            await asyncio.sleep(self.settings.reminder_interval_seconds)
            try:
                if await send_due_reminders(self.database, lead=lead, now=utcnow()):
                    self.wake_webhooks()
            except Exception as exc:
                log.warning("sending reminders failed: %r", exc)

    async def _sweep_recordings(self) -> None:
        """Fail the server recordings of dead media workers (see ServerRecordings.sweep)."""
        while True:
            await asyncio.sleep(self.settings.recording_sweep_seconds)
            try:
                await self.server_recordings.sweep()
            except Exception as exc:
                log.warning("recording sweep failed: %r", exc)

    def wake_webhooks(self) -> None:
        """Let this node's dispatcher look for due deliveries now."""
        if self.webhook_dispatcher is not None:
            self.webhook_dispatcher.wake()

    async def close(self) -> None:
        for task in (self.recording_sweeper, self.reminder_loop):
            await cancel_and_wait(task)
        if self.webhook_dispatcher is not None:
            # First: attempts in flight finish and are recorded while the database is open.
            await self.webhook_dispatcher.stop()
        if self.media_worker is not None:
            await self.media_worker.stop()
        await self.hub.stop()
        await self.attendance.stop()
        await close_redis(self.redis)
        await self.database.dispose()


async def open_services(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    hub_metrics: HubMetrics | None = None,
    webhook_observer: DeliveryObserver | None = None,
) -> Services:
    """Connect everything ``settings`` names; migrate an embedded SQLite database.

    ``clock`` (seconds since the epoch) drives presence expiry and link expiry; tests pass a
    controllable one.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = create_database(
        settings.resolved_database_url(),
        pool_size=settings.db_pool_size,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    if settings.embedded_database:
        await upgrade_database(database)
    await database.warm_writer()  # chat's first message waits for no handshake
    redis = connect_redis(settings.redis_url, cluster=settings.redis_cluster)
    new_bus = bus_factory(settings, redis)
    log.info(
        "liveclass starting (%s): database %s, redis %s, data in %s",
        settings.environment.value,
        "embedded SQLite" if settings.embedded_database else database.dialect,
        "embedded in-process fakeredis"
        if settings.embedded_redis
        else "Redis Cluster"
        if settings.redis_cluster
        else "external server",
        settings.data_dir.resolve(),
    )
    if settings.embedded_redis:
        log.warning(
            "presence lives in this process only: run one node, "
            "or set LIVECLASS_REDIS_URL to scale out"
        )
    jwt_secret = settings.resolved_jwt_secret()
    if settings.jwt_secret is None and settings.jwks_url is None:
        log.warning(
            "no identity provider configured: bearer tokens are signed with this server's "
            "own key (mint them with `liveclass token`); development only"
        )
    authenticator = Authenticator(
        secret=jwt_secret,
        jwks_url=settings.jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        leeway_seconds=settings.jwt_leeway_seconds,
        role_map=settings.role_map,
        default_tenant=settings.default_tenant,
    )
    parts = room_parts(settings, redis, clock)
    presence = presence_for(settings, redis, clock, room_state=parts.local)
    attendance = AttendanceService(database)
    admitter = RoomAdmitter(database, presence, attendance)
    secret_key = settings.resolved_secret_key()
    sessions = SessionService(
        database, presence, max_session_hours=settings.max_session_hours, sequence=parts.sequence
    )
    chat = chat_service(settings, database, presence, parts)
    room_tokens = RoomTokens(secret_key, ttl_seconds=settings.room_token_ttl_seconds, clock=clock)
    node_id = settings.node_id or new_node_id()
    media_registry = MediaRegistry(redis, ttl_seconds=settings.media_ttl_seconds, clock=clock)
    webhook_queue = DeliveryQueue(
        database,
        node=node_id,
        lease_seconds=settings.webhook_lease_seconds,
        backoff=settings.webhook_backoff(),
    )
    dispatcher = None
    if settings.webhooks_dispatch:
        dispatcher = Dispatcher(
            database,
            webhook_queue,
            timeout=settings.webhook_timeout_seconds,
            concurrency=settings.webhook_concurrency,
            poll_interval=settings.webhook_poll_interval_seconds,
            retention_seconds=settings.webhook_retention_days * 86_400,
            observer=webhook_observer,
        )
    hub = Hub(
        node_id=node_id,
        database=database,
        presence=presence,
        admitter=admitter,
        attendance=attendance,
        chat=chat,
        sessions=sessions,
        room_log=parts.room_log,
        bus=new_bus(),
        tokens=room_tokens,
        settings=settings.hub_settings(),
        metrics=hub_metrics or HubMetrics(),
        clock=clock,
        media=media_registry,
    )
    # Whoever purges expired presence (the sweep, a join, a REST read) tells the room.
    presence.on_purged(hub.purged)
    media_worker = None
    if settings.runs_media_in_process:
        media_worker = open_media_worker(
            settings, redis, presence, database, new_bus=new_bus, clock=clock, parts=parts
        )
    return Services(
        settings=settings,
        database=database,
        redis=redis,
        authenticator=authenticator,
        presence=presence,
        sessions=sessions,
        enrollment=EnrollmentService(database, open_payment_verifier(settings)),
        feedback=FeedbackService(database),
        attendance=attendance,
        participation=RestParticipation(
            database,
            presence,
            admitter,
            rest_ttl_seconds=settings.rest_presence_ttl_seconds,
            hold_seconds=settings.max_session_hours * 3600,
        ),
        chat=chat,
        recordings=RecordingService(database, settings.recordings_dir),
        room_tokens=room_tokens,
        links=LinkSigner(secret_key, clock=clock),
        hub=hub,
        bans=Bans(database, presence),
        media_registry=media_registry,
        webhooks=WebhookAdmin(database),
        webhook_queue=webhook_queue,
        server_recordings=open_server_recordings(
            settings,
            database,
            redis,
            presence,
            origin=node_id,
            new_bus=new_bus,
            clock=clock,
            parts=parts,
        ),
        schedules=ScheduleService(database),
        waitlist=WaitlistService(database),
        new_bus=new_bus,
        parts=parts,
        webhook_dispatcher=dispatcher,
        media_worker=media_worker,
    )


def bus_factory(settings: Settings, redis: Redis) -> Callable[[], Bus]:
    """Makes the buses of one process. On the embedded default (no Redis server, so one node)
    they are in-process (:class:`LocalBus`, all on one broker: the hub, the in-process media
    worker and server recordings hear each other); otherwise Redis pub/sub on ``redis``."""
    if settings.embedded_redis:
        broker = LocalBroker()
        return lambda: LocalBus(broker)
    return lambda: RoomBus(redis, sharded=settings.redis_sharded_pubsub)


def presence_for(
    settings: Settings,
    redis: Redis,
    clock: Callable[[], float] = time.time,
    *,
    room_state: LocalRoomState | None = None,
) -> Presence:
    """The process's presence. On the embedded default (no Redis server, so one node) it
    lives in this process (:class:`LocalPresence`, which drops a forgotten room's sequence
    and log from ``room_state``, or from ``redis`` without it); otherwise in Redis
    (:class:`RedisPresence`), shared by every node."""
    if settings.embedded_redis:
        return LocalPresence(redis, clock=clock, room_state=room_state)
    return RedisPresence(redis, clock=clock)


def open_payment_verifier(settings: Settings) -> PaymentVerifier | None:
    """The platform's payment verification hook, when configured (rooms/payments.py)."""
    if settings.payment_verify_url is None:
        return None
    return HttpPaymentVerifier(
        settings.payment_verify_url,
        settings.payment_verify_secret or settings.resolved_secret_key(),
        timeout=settings.payment_verify_timeout_seconds,
    )


def open_server_recordings(
    settings: Settings,
    database: Database,
    redis: Redis,
    presence: Presence,
    *,
    origin: str,
    new_bus: Callable[[], Bus],
    clock: Callable[[], float] = time.time,
    parts: RoomParts | None = None,
) -> ServerRecordings:
    """Server recordings' state, for the API (start, stop, sweep) and the media worker
    (finish, fail); ``parts`` are the process's (:func:`room_parts`, built from ``redis``
    when not given)."""
    parts = parts or room_parts(settings, redis, clock)
    chat = ChatService(database, presence, parts.sequence, max_chars=settings.chat_max_chars)
    return ServerRecordings(
        database,
        RecordingService(database, settings.recordings_dir),
        registry=MediaRegistry(redis, ttl_seconds=settings.media_ttl_seconds, clock=clock),
        bus=new_bus(),
        room_log=parts.room_log,
        next_seq=chat.next_seq,
        origin=origin,
        clock=clock,
    )


def open_media_worker(
    settings: Settings,
    redis: Redis,
    presence: Presence,
    database: Database,
    *,
    new_bus: Callable[[], Bus],
    clock: Callable[[], float] = time.time,
    parts: RoomParts | None = None,
) -> MediaWorker:
    """A media worker on ``redis`` (inside ``liveclass serve``, or ``liveclass media``),
    its buses from ``new_bus`` (:func:`bus_factory`), recording into ``database`` and the
    recordings directory."""
    worker_id = settings.media_worker_id or f"media-{new_node_id()}"
    store = open_server_recordings(
        settings,
        database,
        redis,
        presence,
        origin=worker_id,
        new_bus=new_bus,
        clock=clock,
        parts=parts,
    )
    return MediaWorker(
        worker_id=worker_id,
        recordings=RecordingDesk(store),
        bus=new_bus(),
        registry=MediaRegistry(redis, ttl_seconds=settings.media_ttl_seconds, clock=clock),
        presence=presence,
        router_config=settings.router_config(),
        heartbeat_interval=settings.media_heartbeat_seconds,
        max_subscribers=settings.media_worker_max_subscribers,
        clock=clock,
    )
