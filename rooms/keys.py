"""Every Redis key liveclass uses, in one place.

All keys of one room carry the ``{session_id}`` hash tag, so they live in one Redis Cluster slot
and a Lua script may touch them together. ``prefix`` (default ``lc``) lets several deployments
share one Redis.

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
``lc:{sid}:pver``                  string  presence version (bumped by every change)
``lc:{sid}:resume``                hash    resume token → participant id
``lc:{sid}:rate:chat:{user}``      hash    the user's chat token bucket (REST and WebSocket)
``lc:{sid}:chatoff``               string  present while the host turned student chat off
``lc:{sid}:miclock``               string  present while the host locked students' microphones
``lc:{sid}:gone``                  hash    participant id → why it left (``replaced``, ``left``,
                                           ``banned``, ``ended``, ``expired``); 10 minutes
``lc:{sid}:bus``                   channel the room's events (pub/sub)
``lc:node:{node}``                 channel events for one node's participants
``lc:epoch``                       string  random; a new value means Redis lost its data
=================================  ======  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RoomKeys"]


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
    def version(self) -> str:
        return self._key("pver")

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
