"""Declaring REST endpoints once: parsing, authentication and the OpenAPI document.

Each handler is declared with :meth:`Api.route`, naming its query and body models (pydantic)
and its responses. The declaration both parses the request (JSON body, query string; 400 for
bad JSON, 422 with the pydantic errors for bad fields) and describes the operation in
``/openapi.json``, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.responses import JSONResponse
from rooms.errors import BadRequest, LiveclassError, NotFound, ValidationFailed
from rooms.identity import Principal
from rooms.untrusted import InputRefused, bad_text, check_tree, parse_json

if TYPE_CHECKING:
    from api.services import Services

__all__ = ["Api", "Call", "Endpoint", "parse_body", "validation_details"]

Auth = Literal["required", "optional", "none"]
Handler = Callable[["Call"], Awaitable[Response | BaseModel]]

_Model = TypeVar("_Model", bound=BaseModel)

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(slots=True)
class Call:
    """What a handler receives: the request, the caller, and the parsed inputs."""

    request: Request
    principal: Principal | None
    body: Any
    query: Any
    services: Services

    @property
    def user(self) -> Principal:
        """The authenticated caller (endpoints declared with ``auth="required"``)."""
        assert self.principal is not None
        return self.principal

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])


@dataclass(slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: list[str]
    status: int
    response: type[BaseModel] | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    body_optional: bool
    auth: Auth
    errors: tuple[int, ...]
    request_body: dict[str, Any] | None = None
    raw_response: dict[str, Any] | None = None
    description: str = ""
    operation_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in err["loc"]),
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


class Api:
    """A set of endpoints under one prefix."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tags: list[str],
        status: int = 200,
        response: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        body_optional: bool = False,
        auth: Auth = "required",
        errors: tuple[int, ...] = (),
        request_body: dict[str, Any] | None = None,
        raw_response: dict[str, Any] | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=self.prefix + path,
                    handler=handler,
                    summary=summary,
                    tags=tags,
                    status=status,
                    response=response,
                    query=query,
                    body=body,
                    body_optional=body_optional,
                    auth=auth,
                    errors=errors,
                    request_body=request_body,
                    raw_response=raw_response,
                    description=(handler.__doc__ or "").strip(),
                    operation_id=handler.__name__,
                )
            )
            return handler

        return register

    def routes(self) -> list[Route]:
        return [
            Route(ep.path, _asgi_handler(ep), methods=[ep.method], name=ep.operation_id)
            for ep in self.endpoints
        ]


def _asgi_handler(ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        services: Services = request.app.state.services
        principal: Principal | None = None
        header = request.headers.get("authorization")
        if ep.auth == "required" or (ep.auth == "optional" and header):
            principal = await services.authenticator.authenticate(header)
        for name, value in request.path_params.items():
            if isinstance(value, str) and bad_text(value):
                # Nothing has such an id, and PostgreSQL refuses NUL in text outright.
                raise NotFound(f"no resource has this {name}", code="not_found")
        query = _parse_query(ep, request)
        body = await _parse_body(ep, request)
        result = await ep.handler(Call(request, principal, body, query, services))
        if isinstance(result, Response):
            return result
        return JSONResponse(result.model_dump(mode="json"), status_code=ep.status)

    return handle


def _parse_query(ep: Endpoint, request: Request) -> Any:
    if ep.query is None:
        return None
    params = dict(request.query_params)
    try:
        check_tree(params)
    except InputRefused as exc:
        raise _refused(exc, "the query string is not valid") from None
    try:
        return ep.query.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed(
            "the query string is not valid", details=validation_details(exc)
        ) from exc


async def _parse_body(ep: Endpoint, request: Request) -> Any:
    if ep.body is None:
        return None
    raw = await request.body()
    if not raw.strip():
        if ep.body_optional:
            return ep.body()
        raise BadRequest("this endpoint needs a JSON body", code="missing_body")
    return parse_body(ep.body, raw)


def parse_body(model: type[_Model], raw: bytes) -> _Model:
    """``raw`` (a request body) as ``model``: the one parser of JSON bodies.

    400 ``invalid_json`` for what is not JSON or is a parser bomb (too deep, a huge number;
    see ``rooms/untrusted.py``), 422 for text that cannot be stored (NUL, lone surrogates;
    ``details`` names each field) and for fields ``model`` refuses.
    """
    try:
        data = parse_json(raw)
    except InputRefused as exc:
        raise _refused(exc, "the request body is not valid") from None
    if not isinstance(data, dict):
        raise ValidationFailed("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the request body is not valid", details=validation_details(exc)
        ) from exc


def _refused(exc: InputRefused, message: str) -> LiveclassError:
    if not exc.bad:
        return BadRequest(f"the request body is not valid JSON: {exc.message}", code=exc.code)
    return ValidationFailed(
        message,
        details=[{"field": b.field, "message": b.message, "type": b.reason} for b in exc.bad],
    )


# -- OpenAPI --------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every error: a stable machine code, a human message, optional details."""

    error: ErrorBody


_ERROR_TEXT = {
    400: "Bad request",
    401: "Missing, invalid or expired bearer token",
    402: "Payment required",
    403: "Not allowed for this caller",
    404: "Not found (also: another tenant's resource)",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid fields",
    429: "Rate limited",
    503: "A backing service is unavailable",
}


def openapi_document(
    apis: list[Api],
    *,
    title: str,
    version: str,
    extra_models: tuple[type[BaseModel], ...] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every endpoint in ``apis`` (``extra_models``: schemas that
    hand-written request bodies refer to)."""
    endpoints = [ep for api in apis for ep in api.endpoints]
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (ErrorResponse, "serialization")
    ]
    models.extend((m, "validation") for m in extra_models)
    for ep in endpoints:
        if ep.response is not None:
            models.append((ep.response, "serialization"))
        if ep.body is not None:
            models.append((ep.body, "validation"))
        if ep.query is not None:
            models.append((ep.query, "validation"))
    refs, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    components = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {
            "operationId": ep.operation_id,
            "summary": ep.summary,
            "tags": ep.tags,
            "parameters": [],
            "responses": {},
        }
        if ep.description:
            op["description"] = ep.description
        if ep.auth == "required":
            op["security"] = [{"bearerAuth": []}]
        elif ep.auth == "optional":
            op["security"] = [{"bearerAuth": []}, {}]
        for name in _PATH_PARAM.findall(ep.path):
            op["parameters"].append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
        if ep.query is not None:
            schema = ep.query.model_json_schema(ref_template="#/components/schemas/{model}")
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                param: dict[str, Any] = {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": {k: v for k, v in prop.items() if k not in ("description",)},
                }
                if "description" in prop:
                    param["description"] = prop["description"]
                op["parameters"].append(param)
        if ep.body is not None:
            op["requestBody"] = {
                "required": not ep.body_optional,
                "content": {"application/json": {"schema": ref(ep.body, "validation")}},
            }
        elif ep.request_body is not None:
            op["requestBody"] = ep.request_body
        if ep.raw_response is not None:
            op["responses"][str(ep.status)] = ep.raw_response
        elif ep.response is not None:
            op["responses"][str(ep.status)] = {
                "description": ep.summary,
                "content": {"application/json": {"schema": ref(ep.response, "serialization")}},
            }
        else:
            op["responses"][str(ep.status)] = {"description": ep.summary}
        statuses = set(ep.errors)
        if ep.auth == "required":
            statuses.add(401)
        if ep.query is not None or ep.body is not None:
            statuses.add(422)
        if ep.body is not None:
            statuses.add(400)
        for status in sorted(statuses):
            op["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": ref(ErrorResponse, "serialization")}},
            }
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
