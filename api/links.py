"""The public address links are built on: ``wsUrl``, ``joinUrl``, download and access links.

``LIVECLASS_PUBLIC_URL`` when it is set (behind a load balancer, the address browsers use).
Without it, the address the request came to: its scheme (uvicorn applies
``X-Forwarded-Proto``) and ``X-Forwarded-Host`` or ``Host``, so a server started with
``--port 8101`` links to port 8101 and one behind a proxy to the proxy's address. Links are
built per response and never stored: the store keeps paths (``/api/v1/recordings/...``),
which this makes absolute, so a change of address or port corrects every link at once.
"""

from __future__ import annotations

import re

from starlette.requests import HTTPConnection

from api.settings import Settings

__all__ = ["absolute", "public_base", "ws_url"]

# A host as a Host header carries it: name or address, optional port; nothing else.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def public_base(connection: HTTPConnection, settings: Settings) -> str:
    """``scheme://host[:port]`` (no trailing slash) for links in this response."""
    if settings.public_url_configured:
        return settings.public_url.rstrip("/")
    headers = connection.headers
    host = headers.get("x-forwarded-host", "").split(",")[0].strip() or headers.get("host", "")
    if not _HOST.match(host):
        return settings.public_url.rstrip("/")
    scheme = "https" if connection.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{host}"


def absolute(base: str, url: str | None) -> str | None:
    """``url`` as a link: stored paths (``/api/...``) on ``base``; absolute URLs as they are."""
    if url is None or not url.startswith("/"):
        return url
    return base + url


def ws_url(base: str) -> str:
    """The WebSocket endpoint on ``base``."""
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/ws"
    return base + "/ws"
