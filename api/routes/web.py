"""The browser classroom: the pages and their static files, ``/web-config.json``, and the
development sign-in (``/dev/signin``, ``POST /dev/token``).

The pages are plain files under ``api/web/static`` (no build step): ``index.html`` (the
session list), ``classroom.html`` (student and teacher view of one room), ``analytics.html``
(a session's learning analytics, for its teacher) and ``signin.html``.
They talk to the REST API and ``/ws`` through ``/static/liveclass.js``.

The development sign-in mints bearer tokens for any user, role and tenant, so a new user can
run a class in two browser tabs. It exists only while ``Settings.dev_signin_enabled``
(development without a JWKS by default); otherwise both paths are 404, like any unknown path.
These routes are not part of the OpenAPI document: they are not the product's API.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api.auth import mint_platform_token
from api.endpoint import parse_body
from api.responses import JSONResponse
from api.settings import Settings
from rooms.errors import NotFound
from rooms.identity import UserRole

__all__ = ["STATIC_DIR", "routes"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

_PAGES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/classroom.html": "classroom.html",
    "/analytics.html": "analytics.html",
    "/signin.html": "signin.html",
}

# Ids and tenants as identity providers issue them: no spaces or control characters.
_Id = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@:-]+$")
]


class DevTokenRequest(BaseModel):
    """What the development sign-in mints a bearer token for."""

    model_config = ConfigDict(extra="forbid")

    sub: _Id
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    role: Literal["instructor", "student", "admin"]
    tenant: _Id
    ttlSeconds: int = Field(default=8 * 3600, ge=60, le=7 * 86_400)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _page(name: str) -> FileResponse:
    # Pages change with the app: revalidate on every load (the ETag keeps it cheap).
    return FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-cache"})


def _page_route(path: str, name: str) -> Route:
    async def page(request: Request) -> Response:
        return _page(name)

    return Route(path, page, methods=["GET"], include_in_schema=False)


def _refuse_unless_enabled(request: Request) -> Settings:
    settings = _settings(request)
    if not settings.dev_signin_enabled:
        raise NotFound(f"no route for {request.method} {request.url.path}", code="not_found")
    return settings


async def dev_signin(request: Request) -> Response:
    """The sign-in page, in development only."""
    _refuse_unless_enabled(request)
    return _page("signin.html")


async def dev_token(request: Request) -> Response:
    """A bearer token for the user, role and tenant asked for (development only)."""
    settings = _refuse_unless_enabled(request)
    secret = settings.resolved_jwt_secret()
    if secret is None:  # a JWKS deployment; Settings refuses dev_signin with one
        raise NotFound(f"no route for {request.method} {request.url.path}", code="not_found")
    body = parse_body(DevTokenRequest, await request.body())
    token = mint_platform_token(
        secret,
        sub=body.sub,
        name=body.name,
        role=UserRole(body.role),
        tenant=body.tenant,
        ttl_seconds=body.ttlSeconds,
    )
    expires = datetime.fromtimestamp(int(time.time()) + body.ttlSeconds, UTC)
    return JSONResponse(
        {
            "token": token,
            "expiresAt": expires.isoformat().replace("+00:00", "Z"),
            "user": {"sub": body.sub, "name": body.name, "role": body.role, "tenant": body.tenant},
        },
        headers={"Cache-Control": "no-store"},
    )


async def web_config(request: Request) -> Response:
    """What the pages need to know about this server."""
    settings = _settings(request)
    paths: dict[str, object] = request.app.state.openapi.get("paths", {})
    return JSONResponse(
        {
            "environment": settings.environment.value,
            "devSignin": settings.dev_signin_enabled,
            "apiBase": "/api/v1",
            "features": {
                # Server recording ships separately; the teacher's buttons follow the API.
                "recording": any(p.endswith("/recording/start") for p in paths),
            },
        },
        headers={"Cache-Control": "no-cache"},
    )


async def classroom_link(request: Request) -> Response:
    """``/classroom/<id or room name>``, the ``joinUrl`` of every session: the classroom page
    for that session (its address takes the session as a query parameter)."""
    ref = str(request.path_params["ref"])
    return RedirectResponse(f"/classroom.html?{urlencode({'session': ref})}", status_code=302)


def routes() -> list[BaseRoute]:
    """The pages, ``/classroom/{ref}``, ``/static``, ``/web-config.json`` and the development
    sign-in."""
    result: list[BaseRoute] = [_page_route(path, name) for path, name in _PAGES.items()]
    result += [
        Route("/classroom/{ref}", classroom_link, methods=["GET"], include_in_schema=False),
        Route("/web-config.json", web_config, methods=["GET"], include_in_schema=False),
        Route("/dev/signin", dev_signin, methods=["GET"], include_in_schema=False),
        Route("/dev/token", dev_token, methods=["POST"], include_in_schema=False),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return result
