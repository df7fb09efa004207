"""Request ids in and out, JSON log lines, and secrets kept out of every log line."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from api.logs import ContextFilter, JsonFormatter, RedactSecrets, TextFormatter, redact, request_id
from signaling.log_context import connection_id


async def test_the_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    fresh = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    for unsafe in ("has spaces", "x" * 200, 'quote"d'):
        replaced = await client.get("/healthz", headers={"X-Request-Id": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
    # Errors carry it too.
    missing = await client.get("/api/v1/nowhere", headers={"X-Request-Id": "r-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "r-404"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("GET /ws?token=eyJhbGciOi.abc.def HTTP/1.1", "eyJhbGciOi.abc.def"),
        ('"WebSocket /ws?lastSeq=3&resume=r3sum3t0k3n" [accepted]', "r3sum3t0k3n"),
        ("/api/v1/recordings/x/file?expires=1&signature=5ec2e7", "5ec2e7"),
        ("Authorization: Bearer abc.def-ghi_jkl", "abc.def-ghi_jkl"),
        ("secret whsec_AbCdEf0123456789 leaked", "whsec_AbCdEf0123456789"),
        ("claims eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "c2lnbmF0dXJl"),
        # In any case (a quick search skips the lines without a hint of one: not these).
        ("AUTHORIZATION: BEARER Zx9-Yw8", "Zx9-Yw8"),
        ("/ws?TOKEN=Qp7r", "Qp7r"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted" in cleaned


def test_words_after_bearer_are_not_taken_for_credentials() -> None:
    text = "bearer tokens are signed with this server's own key; Bearer abcdefghijklmnopqrstuvwxyz"
    cleaned = redact(text)
    assert cleaned.startswith("bearer tokens are signed")
    assert "abcdefghijklmnopqrstuvwxyz" not in cleaned


def _record(message: str, *args: object) -> logging.LogRecord:
    record = logging.LogRecord("liveclass.test", logging.INFO, __file__, 1, message, args, None)
    for flt in (ContextFilter(), RedactSecrets()):
        flt.filter(record)
    return record


def test_json_lines_carry_the_ids_and_no_secrets() -> None:
    rid = request_id.set("req-1")
    cid = connection_id.set("c_abc")
    try:
        record = _record('"WebSocket %s" [accepted]', "/ws?token=sekrit")
    finally:
        request_id.reset(rid)
        connection_id.reset(cid)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO"
    assert line["logger"] == "liveclass.test"
    assert line["requestId"] == "req-1"
    assert line["connectionId"] == "c_abc"
    assert line["message"] == '"WebSocket /ws?token=[redacted]" [accepted]'
    assert line["ts"].endswith("Z")
    text = TextFormatter("%(levelname)s %(message)s").format(record)
    assert text.endswith("[request=req-1 conn=c_abc]")
    assert "sekrit" not in text


def test_exceptions_are_redacted_too() -> None:
    try:
        raise ValueError("bad token=abcdef")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "liveclass.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    RedactSecrets().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "abcdef" not in line["exception"]
    assert "ValueError" in line["exception"]


def test_text_lines_cannot_be_forged_by_input() -> None:
    """A percent-decoded path or a name with line breaks stays on its own line, escaped."""
    formatter = TextFormatter("%(levelname)s %(name)s %(message)s")
    record = logging.LogRecord(
        "liveclass.api",
        logging.WARNING,
        __file__,
        1,
        "failed on GET %s",
        ("/x\nINFO forged\r\u2028",),
        None,
    )
    record.request_id = None
    line = formatter.format(record)
    assert line == "WARNING liveclass.api failed on GET /x\\nINFO forged\\r\\u2028"
    assert "\n" not in line
