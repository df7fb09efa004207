"""Every Redis key and pub/sub channel liveclass uses, in one place.

No other module spells a key or a channel (``tests/test_architecture.py`` fails on one that
does): they ask :class:`RoomKeys`, :class:`MediaKeys`, :class:`Channels` or :func:`epoch_key`.

All keys of one room carry the ``{session_id}`` hash tag, so they live in one Redis Cluster slot
and a Lua script may touch them together; the media registry's keys all carry ``{media}``.
``prefix`` (default ``lc``) lets several deployments share one Redis; channels take the
channel prefix (``rooms.redis_client.channel_prefix``: ``lc:db<N>`` on database N > 0, since
Redis shares pub/sub channels across its databases).

=================================  ======  =================================================
key                                type    meaning
=================================  ======  =================================================
``lc:{sid}:room``                  hash    ``status`` (live/ended/...), ``capacity``
``lc:{sid}:members``               hash    participant id → presence entry (JSON)
``lc:{sid}:owner``                 hash    participant id → user id
``lc:{sid}:users``                 hash    user id → participant id (one connection per user)
``lc:{sid}:expiry``                zset    participant id → expiry (ms since epoch)
``lc:{sid}:seats``                 set     participant ids that take a seat (guests)
``lc:{sid}:hidden``                set     participant ids hidden from rosters (observers)
``lc:{sid}:bans``                  set     user ids kicked from the session
``lc:{sid}:publishers``            set     user ids the host allowed to publish (``allow``)
``lc:{sid}:seq``                   string  last reliable-message sequence number
``lc:{sid}:log``                   zset    recent reliable messages (score = seq)
``lc:{sid}:resume``                hash    resume token → participant id
``lc:{sid}:rate:chat:{user}``      hash    the user's chat token bucket (REST and WebSocket)
``lc:{sid}:chatoff``               string  present while the host turned student chat off
``lc:{sid}:miclock``               string  present while the host locked students' microphones
``lc:{sid}:waitroom``              string  present while the class has its waiting room on
``lc:{sid}:waiting``               hash    waiter id → a student waiting to be let in (JSON)
``lc:{sid}:letin``                 set     user ids the host let in (they wait no more)
``lc:{sid}:gone``                  hash    participant id → why it left (``replaced``, ``left``,
                                           ``banned``, ``ended``, ``expired``); 10 minutes
``lc:{sid}:bus``                   channel the room's events (pub/sub)
``lc:node:{node}``                 channel events for one node's participants
``lc:media:{worker}``              channel events for one media worker (signals, joins, leaves)
``lc:epoch``                       string  random; a new value means Redis lost its data
``lc:{media}:alive``               zset    worker id → last heartbeat (ms since epoch)
``lc:{media}:load``                hash    worker id → rooms whose origin it is
``lc:{media}:rooms``               hash    session id → origin worker id
``lc:{media}:subs``                hash    worker id → participants it sends media to
``lc:{media}:caps``                hash    worker id → participants it can carry (measured)
``lc:{media}:assign:{sid}``        hash    participant id → the worker sending them media
``lc:{media}:relays:{sid}``        set     workers relaying the room (besides its origin)
=================================  ======  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Channels", "MediaKeys", "RoomKeys", "database_channel_prefix", "epoch_key"]


@dataclass(frozen=True, slots=True)
class RoomKeys:
    """The keys of one room."""

    session_id: str
    prefix: str = "lc"

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{{{self.session_id}}}:{name}"

    @property
    def room(self) -> str:
        return self._key("room")

    @property
    def members(self) -> str:
        return self._key("members")

    @property
    def owner(self) -> str:
        return self._key("owner")

    @property
    def users(self) -> str:
        return self._key("users")

    @property
    def expiry(self) -> str:
        return self._key("expiry")

    @property
    def seats(self) -> str:
        return self._key("seats")

    @property
    def hidden(self) -> str:
        return self._key("hidden")

    @property
    def bans(self) -> str:
        return self._key("bans")

    @property
    def publishers(self) -> str:
        return self._key("publishers")

    @property
    def seq(self) -> str:
        return self._key("seq")

    @property
    def log(self) -> str:
        return self._key("log")

    @property
    def resume(self) -> str:
        return self._key("resume")

    @property
    def gone(self) -> str:
        return self._key("gone")

    @property
    def chat_off(self) -> str:
        return self._key("chatoff")

    @property
    def mic_lock(self) -> str:
        return self._key("miclock")

    @property
    def waiting_room(self) -> str:
        return self._key("waitroom")

    @property
    def waiting(self) -> str:
        return self._key("waiting")

    @property
    def let_in(self) -> str:
        return self._key("letin")

    def chat_rate(self, user_id: str) -> str:
        return self._key(f"rate:chat:{user_id}")

    def presence_keys(self) -> list[str]:
        """The KEYS list every presence script takes, in this order."""
        return [
            self.room,
            self.members,
            self.owner,
            self.users,
            self.expiry,
            self.seats,
            self.hidden,
            self.bans,
            self.gone,
        ]


def database_channel_prefix(prefix: str, db: int) -> str:
    """The channel prefix on Redis database ``db`` (channels are shared by all databases)."""
    return prefix if db == 0 else f"{prefix}:db{db}"


def epoch_key(prefix: str = "lc") -> str:
    """Redis's data epoch (see ``Presence.epoch``)."""
    return f"{prefix}:epoch"


@dataclass(frozen=True, slots=True)
class MediaKeys:
    """The media registry's keys (one ``{media}`` slot: its scripts touch several)."""

    prefix: str = "lc"

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{{media}}:{name}"

    @property
    def alive(self) -> str:
        return self._key("alive")

    @property
    def load(self) -> str:
        return self._key("load")

    @property
    def rooms(self) -> str:
        return self._key("rooms")

    @property
    def subs(self) -> str:
        return self._key("subs")

    @property
    def caps(self) -> str:
        return self._key("caps")

    def assign(self, session_id: str) -> str:
        return self._key(f"assign:{session_id}")

    def relays(self, session_id: str) -> str:
        return self._key(f"relays:{session_id}")


@dataclass(frozen=True, slots=True)
class Channels:
    """The pub/sub channels; ``prefix`` is the channel prefix (``channel_prefix``)."""

    prefix: str = "lc"

    def room(self, session_id: str) -> str:
        """A room's events: every node and media worker in the room listens."""
        return f"{self.prefix}:{{{session_id}}}:bus"

    def node(self, node_id: str) -> str:
        """Events for the participants one node holds."""
        return f"{self.prefix}:node:{{{node_id}}}"

    def media_worker(self, worker_id: str) -> str:
        """Events for one media worker."""
        return f"{self.prefix}:media:{{{worker_id}}}"

    def session_of(self, channel: str) -> str | None:
        """The session id of a room channel, None for any other channel."""
        head, tail = f"{self.prefix}:{{", "}:bus"
        if channel.startswith(head) and channel.endswith(tail):
            return channel[len(head) : -len(tail)]
        return None
