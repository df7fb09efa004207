"""Identifiers: UUIDs for durable rows, short random ids for participants."""

from __future__ import annotations

import re
import secrets
import uuid

__all__ = ["is_uuid", "new_id", "new_participant_id", "room_name_from_title"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def new_participant_id() -> str:
    return "p_" + secrets.token_urlsafe(9)


def room_name_from_title(title: str) -> str:
    """A readable, unique-enough room name: the title's slug and a random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "room"
    return f"{slug}-{secrets.token_hex(3)}"
