"""The ICE servers a client is handed: STUN, and TURN with short-lived credentials.

TURN credentials follow coturn's shared-secret scheme (``use-auth-secret`` with
``static-auth-secret``; the "TURN REST API" draft): the username is ``<expiry>:<user id>``
(expiry in Unix seconds) and the credential is ``base64(HMAC-SHA1(secret, username))``. Any
TURN server that knows the secret checks them without asking liveclass, and refuses them once
the expiry has passed. A TURN allocation is refreshed with the credential it was made with, so
the lifetime must outlast the longest class (the default, four hours, does); clients get fresh
ones with every room token and every ``welcome``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

__all__ = ["IceServers", "turn_credential"]


def turn_credential(secret: str, username: str) -> str:
    """coturn's credential for ``username`` under the shared ``secret``."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class IceServers:
    """What clients are told to use (``RTCIceServer`` dictionaries).

    - ``stun_urls``: STUN servers (``stun:host:port``), no credentials.
    - ``turn_urls``: TURN servers, typically the same coturn over UDP, TCP and TLS on 443
      (``turn:host:3478?transport=udp``, ``turn:host:3478?transport=tcp``,
      ``turns:host:443?transport=tcp``); they need ``turn_secret``.
    - ``turn_ttl``: seconds a credential stays valid.
    """

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl: int = 4 * 3600

    def __post_init__(self) -> None:
        if self.turn_urls and not self.turn_secret:
            raise ValueError("TURN URLs need the TURN shared secret")
        if self.turn_ttl < 60:
            raise ValueError("a TURN credential must live at least a minute")

    def for_user(self, user_id: str, now: float) -> list[dict[str, Any]]:
        """The ``iceServers`` list for ``user_id`` (empty when none are configured: an SFU on a
        network the clients reach needs none)."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls and self.turn_secret:
            username = f"{int(now) + self.turn_ttl}:{user_id}"
            servers.append(
                {
                    "urls": list(self.turn_urls),
                    "username": username,
                    "credential": turn_credential(self.turn_secret, username),
                }
            )
        return servers
