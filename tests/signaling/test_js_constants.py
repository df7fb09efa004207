"""The JavaScript client's protocol constants come from the Python ones and cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from signaling import close_codes
from signaling.js_constants import render

STATIC = Path(__file__).resolve().parents[2] / "api" / "web" / "static"


def test_protocol_js_is_what_the_python_definitions_generate() -> None:
    committed = (STATIC / "protocol.js").read_text()
    assert committed == render(), (
        "api/web/static/protocol.js is stale: run "
        "`python -m signaling.js_constants > api/web/static/protocol.js`"
    )


def test_the_pages_name_close_codes_instead_of_repeating_them() -> None:
    ours = {c for c in vars(close_codes).values() if isinstance(c, int) and c >= 4000}
    for script in ("liveclass.js", "classroom.js"):
        text = (STATIC / script).read_text()
        literals = {int(n) for n in re.findall(r"(?<![\w.#x])(4\d{3})(?!\d)", text)}
        assert not literals & ours, f"{script} repeats close codes {sorted(literals & ours)}"
        assert "liveclass.v1." not in text, f"{script} repeats a subprotocol name"
