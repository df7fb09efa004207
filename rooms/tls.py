"""The TLS context of liveclass's outgoing HTTPS calls (webhook deliveries, payment checks)."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle, environment ignored), built once per
    process: building it parses the whole bundle (~20 ms of CPU), which every client made with
    the default paid again. A context is safe to share between clients."""
    return httpx.create_ssl_context(trust_env=False)
