"""What every seed adapter shares: routes whose errors come out in the seed's own shape,
request parsing that reports bad input the way the seeds do (400 with a sentence), the
caller, and the tenant of anonymous catalogue reads.

An adapter declares its endpoints on a :class:`SeedApi` with the seed's error renderer; its
handlers translate the seed's request into a domain call (``rooms`` services or
``api/actions.py``) and the result into the seed's response. Domain errors raised inside are
turned into the seed's error shape here, with the seed's status for each kind of error
(``statuses``) and, where the document spells them out, the seed's messages (``messages``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import links
from api.endpoint import parse_json_body, refuse_bad_input, validation_details
from api.errors import status_of
from api.responses import JSONResponse
from api.services import Services
from rooms import errors as e
from rooms.identity import Principal

__all__ = [
    "ErrorRenderer",
    "SeedApi",
    "SeedCall",
    "from_ms",
    "iso",
    "json_response",
    "public_base",
]

M = TypeVar("M", bound=BaseModel)

#: Renders one error in a seed's shape: (status, message, liveclass error code).
ErrorRenderer = Callable[[int, str, str], Response]
Auth = Literal["required", "optional"]


def iso(value: datetime | None, *, millis: bool = False) -> str | None:
    """``2025-11-20T14:00:00Z`` (``millis``: ``2025-11-20T14:00:00.000Z``), UTC."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if millis:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def from_ms(milliseconds: int) -> datetime:
    """A presence timestamp (milliseconds since the epoch) as a UTC datetime."""
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def public_base(call: SeedCall) -> str:
    """The public address links are built on (see api/links.py)."""
    return links.public_base(call.request, call.services.settings)


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _input_message(details: list[dict[str, Any]]) -> str:
    """``startsAt is required``, or the first field's problem."""
    first = details[0] if details else {"field": "body", "message": "is not valid"}
    field = str(first["field"]).removeprefix("body.") or "body"
    if first.get("type") == "missing":
        return f"{field} is required"
    return f"{field}: {first['message']}"


@dataclass(slots=True)
class SeedCall:
    """What a seed handler receives."""

    request: Request
    services: Services
    principal: Principal | None

    @property
    def user(self) -> Principal:
        """The authenticated caller (routes declared with ``auth="required"``)."""
        if self.principal is None:
            raise e.Unauthorized("this endpoint needs a bearer token", code="missing_token")
        return self.principal

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def reader_tenant(self) -> str:
        """The tenant a read is for: the caller's; for anonymous readers (endpoints the seeds
        serve without authentication) the ``tenant`` query parameter or
        LIVECLASS_DEFAULT_TENANT, when LIVECLASS_PUBLIC_CATALOG allows anonymous reads."""
        if self.principal is not None:
            return self.principal.tenant
        settings = self.services.settings
        tenant = self.request.query_params.get("tenant") or settings.default_tenant
        if tenant and "\x00" in tenant:
            raise e.ValidationFailed("tenant is not valid")
        if not settings.public_catalog or not tenant:
            raise e.Unauthorized("this endpoint needs a bearer token", code="missing_token")
        return tenant

    async def json(self, *, optional: bool = False) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw.strip():
            if optional:
                return {}
            raise e.BadRequest("the request needs a JSON body", code="missing_body")
        data = parse_json_body(raw)
        if not isinstance(data, dict):
            raise e.BadRequest("the request body must be a JSON object", code="invalid_json")
        return data

    async def body(self, model: type[M], *, optional: bool = False) -> M:
        return self.parse(model, await self.json(optional=optional))

    def query(self, model: type[M]) -> M:
        params = dict(self.request.query_params)
        refuse_bad_input(params, "the query string is not valid")
        return self.parse(model, params)

    @staticmethod
    def parse(model: type[M], data: Mapping[str, Any]) -> M:
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            details = validation_details(exc)
            raise e.ValidationFailed(_input_message(details), details=details) from exc


SeedHandler = Callable[[SeedCall], Awaitable[Response]]


class _Blank(dict[str, Any]):
    """Placeholders a message names but an error lacks stay visible as ``?``."""

    def __missing__(self, key: str) -> str:
        return "?"


class SeedApi:
    """A seed's endpoints, rendering every error with ``render``.

    ``statuses`` overrides the HTTP status per liveclass error code or class (the seeds say
    400 where liveclass says 409, for instance); unlisted errors keep liveclass's, except
    invalid fields: 400, as every seed documents them, where liveclass says 422.
    """

    def __init__(
        self,
        render: ErrorRenderer,
        *,
        statuses: Mapping[str | type[e.LiveclassError], int] | None = None,
    ) -> None:
        self._render = render
        self._statuses = dict(statuses or {})
        self._routes: list[Route] = []

    def status(self, error: e.LiveclassError) -> int:
        if error.code in self._statuses:
            return self._statuses[error.code]
        for kind, status in self._statuses.items():
            if isinstance(kind, type) and isinstance(error, kind):
                return status
        status = status_of(error)
        return 400 if status == 422 else status

    def route(
        self,
        method: str,
        path: str,
        *,
        auth: Auth = "required",
        messages: Mapping[int | str, str] | None = None,
    ) -> Callable[[SeedHandler], SeedHandler]:
        """Declare ``handler`` for ``method path``. ``messages``: the seed's message per
        liveclass error code or else per status (``{name}`` placeholders take the path
        parameters and the error's details, such as ``status`` and ``capacity``)."""

        def register(handler: SeedHandler) -> SeedHandler:
            async def endpoint(request: Request) -> Response:
                try:
                    services: Services = request.app.state.services
                    if any("\x00" in str(v) for v in request.path_params.values()):
                        # Nothing has such an id (and PostgreSQL refuses NUL in text).
                        raise e.NotFound("no resource has this id", code="not_found")
                    header = request.headers.get("authorization")
                    principal = None
                    if auth == "required" or header:
                        principal = await services.authenticator.authenticate(header)
                    return await handler(SeedCall(request, services, principal))
                except e.LiveclassError as exc:
                    status = self.status(exc)
                    if status >= 500:
                        raise  # 503 with Retry-After, like every other endpoint
                    known = messages or {}
                    template = known.get(exc.code) or known.get(status)
                    fields = dict(exc.details) if isinstance(exc.details, dict) else {}
                    fields.update(request.path_params)
                    message = template.format_map(_Blank(fields)) if template else exc.message
                    return self._render(status, message, exc.code)

            # Not in /openapi.json, which describes liveclass's own API: a seed's API is its
            # document (tests/compat/documents).
            route = Route(
                path, endpoint, methods=[method], name=handler.__name__, include_in_schema=False
            )
            self._routes.append(route)
            return handler

        return register

    def routes(self) -> list[Route]:
        return list(self._routes)
