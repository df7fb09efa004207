"""Operations: liveness, readiness, Prometheus metrics, the OpenAPI document and docs page."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.endpoint import Api, Call
from api.responses import JSONResponse
from api.schemas.ops import HealthOut

api = Api()
log = logging.getLogger("liveclass.api")


@api.route("GET", "/healthz", summary="Liveness", tags=["ops"], response=HealthOut, auth="none")
async def healthz(call: Call) -> HealthOut:
    """200 while the process serves requests."""
    return HealthOut(status="ok")


@api.route(
    "GET",
    "/readyz",
    summary="Readiness",
    tags=["ops"],
    response=HealthOut,
    auth="none",
    errors=(503,),
)
async def readyz(call: Call) -> Response:
    """200 when the database and Redis answer within 2 s; 503 (with which one failed)
    otherwise, so a load balancer stops sending traffic here."""
    services = call.services
    checks: dict[str, str] = {}

    async def check(name: str, probe: Awaitable[object]) -> None:
        try:
            await asyncio.wait_for(probe, timeout=2.0)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            log.warning("readiness check %s failed: %s", name, exc.__class__.__name__)
            checks[name] = "unavailable"

    await check("database", services.database.ping())
    await check("redis", services.redis.ping())
    ready = all(v == "ok" for v in checks.values())
    body = HealthOut(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    app_metrics = request.app.state.metrics
    services = getattr(request.app.state, "services", None)
    if services is not None:
        await app_metrics.state.refresh(services)
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


# Swagger UI's own colours fail WCAG AA contrast (white on light green, blue, orange...):
# darker shades of the same hues, checked by tests/web/test_accessibility.py.
DOCS_CONTRAST = """
.swagger-ui .opblock.opblock-get .opblock-summary-method { background: #1a5fb4; }
.swagger-ui .opblock.opblock-post .opblock-summary-method { background: #17703f; }
.swagger-ui .opblock.opblock-put .opblock-summary-method { background: #8a4b00; }
.swagger-ui .opblock.opblock-patch .opblock-summary-method { background: #0b6e5c; }
.swagger-ui .opblock.opblock-delete .opblock-summary-method { background: #b3261e; }
.swagger-ui .opblock.opblock-head .opblock-summary-method { background: #7a3cb0; }
.swagger-ui .opblock.opblock-options .opblock-summary-method { background: #1d5a8c; }
.swagger-ui .info .title small { background: #505a66; }
.swagger-ui .info .title small.version-stamp { background: #3f5b00; }
.swagger-ui .info a, .swagger-ui .info .url { color: #0b57d0; }
.swagger-ui .btn.authorize { color: #17703f; border-color: #17703f; }
.swagger-ui .btn.authorize svg { fill: #17703f; }
.swagger-ui .json-schema-2020-12-expand-deep-button { color: #505a66; }
"""

DOCS_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>liveclass API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<style>{DOCS_CONTRAST}</style></head>
<body><div id="docs"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""

# No deep links: Swagger UI puts each one, a link, inside the operation's button (a control
# nested in a control, which screen readers and keyboards cannot tell apart; axe-core's
# nested-interactive), and each is a 19 px high touch target.
DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#docs",
  deepLinking: false, persistAuthorization: true});"""


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


async def docs_init(request: Request) -> Response:
    return Response(DOCS_INIT, media_type="text/javascript")
