"""The bus events' wire codec: typed events (rooms/bus_events.py) to the MessagePack map every
node speaks and back. The only place that sees the untyped map (``Any``): what comes out of
:func:`decode` is one of the typed classes, or ``None`` for what this version cannot use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

import msgpack

from rooms.bus_events import (
    Attach,
    BusEvent,
    CloseParticipant,
    Direct,
    GrantChanged,
    MediaSignal,
    PresenceChanged,
    RecordCommand,
    Relay,
    RoomEndedEvent,
    RoomMessage,
    WaitingDecision,
)

__all__ = ["decode", "encode"]

_SFU_FIELDS = ("participant", "kind", "user", "role", "publish")


def _map(event: BusEvent) -> dict[str, Any]:
    """The event's map (one dict literal per kind: this is on every room message's path)."""
    data: dict[str, Any]
    match event:
        case RoomMessage():
            data = {} if event.sent_at is None else {"ts": event.sent_at}
            return {
                "k": "msg",
                "s": event.session_id,
                "o": event.origin,
                "m": event.message,
                "a": event.audience,
                "x": event.exclude,
                "d": data,
            }
        case PresenceChanged():
            data = {"joined": event.joined, "left": event.left, "hidden": event.hidden}
            return {"k": "presence", "s": event.session_id, "o": event.origin, "d": data}
        case Direct():
            return {
                "k": "direct",
                "s": event.session_id,
                "o": event.origin,
                "m": event.message,
                "t": event.to,
            }
        case CloseParticipant():
            data = {"code": event.code, "reason": event.reason}
            return {
                "k": "close",
                "s": event.session_id,
                "o": event.origin,
                "m": event.message,
                "t": event.to,
                "d": data,
            }
        case GrantChanged():
            return {
                "k": "grant",
                "s": event.session_id,
                "o": event.origin,
                "t": event.to,
                "d": {"publish": event.publish},
            }
        case RoomEndedEvent():
            return {
                "k": "ended",
                "s": event.session_id,
                "o": event.origin,
                "d": {"reason": event.reason},
            }
        case MediaSignal():
            data = {
                **event.signal,
                "participant": event.participant,
                "kind": event.kind,
                "publish": event.publish,
            }
            if event.user is not None:
                data["user"] = event.user
            if event.role is not None:
                data["role"] = event.role
            return {"k": "sfu", "s": event.session_id, "o": event.origin, "d": data}
        case Attach():
            data = {
                "participant": event.participant,
                "origin": event.origin_worker,
                "fresh": event.fresh,
            }
            return {"k": "attach", "s": event.session_id, "o": event.origin, "d": data}
        case Relay():
            data = {"worker": event.worker, "kind": event.step, "fresh": event.fresh}
            if event.sdp is not None:
                data["sdp"] = event.sdp
            if event.offer_id is not None:
                data["offerId"] = event.offer_id
            return {"k": "relay", "s": event.session_id, "o": event.origin, "d": data}
        case RecordCommand():
            data = {"action": event.action, "recording": event.recording, "path": event.path}
            return {"k": "record", "s": event.session_id, "o": event.origin, "d": data}
        case WaitingDecision():
            return {
                "k": "waiting",
                "s": event.session_id,
                "o": event.origin,
                "t": event.to,
                "d": {"decision": event.decision},
            }
        case _:
            assert_never(event)


def encode(event: BusEvent) -> bytes:
    """The event's MessagePack map."""
    packed: bytes = msgpack.packb(_map(event), use_bin_type=True)
    return packed


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _msg(sid: str, origin: str, m: dict[str, Any]) -> BusEvent | None:
    message, data = m.get("m"), m.get("d") or {}
    if not isinstance(message, dict):
        return None
    audience = m.get("a", "all")
    ts = data.get("ts")
    return RoomMessage(
        sid,
        message,
        origin,
        audience=audience if isinstance(audience, str) and audience.startswith("hosts") else "all",
        exclude=_opt_str(m.get("x")),
        sent_at=float(ts) if isinstance(ts, int | float) else None,
    )


def _presence(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    views = [v for v in data.get("joined", []) if isinstance(v, dict)]
    gone = [v for v in data.get("left", []) if isinstance(v, dict)]
    hidden = [h for h in data.get("hidden", []) if isinstance(h, str)]
    return PresenceChanged(sid, origin, views, gone, hidden)


def _direct(sid: str, origin: str, m: dict[str, Any]) -> BusEvent | None:
    message = m.get("m")
    if not isinstance(message, dict):
        return None
    return Direct(sid, message, _str(m.get("t")), origin)


def _close(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    message = m.get("m")
    return CloseParticipant(
        sid,
        _str(m.get("t")),
        int(data.get("code", 1000)),
        _str(data.get("reason")),
        message if isinstance(message, dict) else None,
        origin,
    )


def _grant(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    return GrantChanged(sid, bool(data.get("publish")), _str(m.get("t")), origin)


def _ended(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    return RoomEndedEvent(sid, _str(data.get("reason"), "the class ended"), origin)


def _sfu(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = dict(m.get("d") or {})
    known = {name: data.pop(name, None) for name in _SFU_FIELDS}
    return MediaSignal(
        sid,
        _str(known["participant"]),
        _str(known["kind"]),
        origin,
        user=_opt_str(known["user"]),
        role=_opt_str(known["role"]),
        publish=known["publish"] is True,
        signal=data,
    )


def _attach(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    return Attach(
        sid,
        _str(data.get("participant")),
        _str(data.get("origin")),
        data.get("fresh") is True,
        origin,
    )


def _relay(sid: str, origin: str, m: dict[str, Any]) -> BusEvent:
    data = m.get("d") or {}
    return Relay(
        sid,
        _str(data.get("worker"), origin),
        _str(data.get("kind")),
        _opt_str(data.get("sdp")),
        _opt_str(data.get("offerId")),
        data.get("fresh") is True,
        origin,
    )


def _record(sid: str, origin: str, m: dict[str, Any]) -> BusEvent | None:
    data = m.get("d") or {}
    action = data.get("action")
    if action not in ("start", "stop"):
        return None
    return RecordCommand(
        sid, action, _str(data.get("recording")), _opt_str(data.get("path")), origin
    )


def _waiting(sid: str, origin: str, m: dict[str, Any]) -> BusEvent | None:
    to, data = m.get("t"), m.get("d") or {}
    decision = data.get("decision")
    if not isinstance(to, str) or not isinstance(decision, str):
        return None
    return WaitingDecision(sid, to, decision, origin)


_DECODERS: dict[str, Callable[[str, str, dict[str, Any]], BusEvent | None]] = {
    "msg": _msg,
    "presence": _presence,
    "direct": _direct,
    "close": _close,
    "grant": _grant,
    "ended": _ended,
    "sfu": _sfu,
    "attach": _attach,
    "relay": _relay,
    "record": _record,
    "waiting": _waiting,
}


def decode(raw: bytes) -> BusEvent | None:
    """The event in ``raw``; None for a kind this version does not know, or one without what
    its kind needs. Raises ``ValueError``, ``KeyError``, ``TypeError`` or a msgpack error for
    bytes that are no event at all."""
    m = msgpack.unpackb(raw, raw=False)
    if not isinstance(m, dict):
        raise TypeError("a bus event is a map")
    decoder = _DECODERS.get(m["k"])
    if decoder is None:
        return None
    return decoder(str(m["s"]), _str(m.get("o")), m)
