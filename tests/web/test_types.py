"""The browser client's JSDoc types hold: TypeScript's compiler (``tsc --noEmit``, installed
from package-lock.json by scripts/ensure-node-tools.sh) checks every script of api/web/static
(the client library and every page's; each starts with ``// @ts-check``) against the message
types generated from the server's models (protocol.js).

A second run on a deliberately wrong file shows the check bites: a ``chat`` whose ``text`` is
a number, and a ``poll-vote`` without ``choices``, are errors against the generated
``ClientMessage``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TSC = ROOT / "node_modules" / ".bin" / "tsc"
STATIC = ROOT / "api/web/static"
#: Checked also when someone drops one from the glob by mistake: the client and the pages.
CHECKED = (
    "protocol.js",
    "liveclass.js",
    "common.js",
    "classroom.js",
    "polls.js",
    "reactions.js",
    "chat_moderation.js",
    "waiting_room.js",
    "questions.js",
    "roster.js",
    "analytics.js",
    "index.js",
    "signin.js",
)


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        pytest.fail("TypeScript's compiler is not installed: run scripts/ensure-node-tools.sh")
    return subprocess.run(
        [str(TSC), "-p", str(project), "--pretty", "false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_script_is_checked() -> None:
    scripts = sorted(p.name for p in STATIC.glob("*.js"))
    assert set(CHECKED) <= set(scripts)
    unchecked = [n for n in scripts if (STATIC / n).read_text().splitlines()[0] != "// @ts-check"]
    assert unchecked == [], f"not type-checked (start them with // @ts-check): {unchecked}"


def test_the_browser_client_type_checks() -> None:
    result = tsc(ROOT / "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_type_error_fails_the_check(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.js"
    wrong.write_text(
        "// @ts-check\n"
        'import { LiveclassClient } from "/static/liveclass.js";\n'
        '/** @type {import("/static/protocol.js").ClientMessage} */\n'
        'export const chat = { type: "chat", text: 42 };\n'
        'const client = new LiveclassClient({ url: "/ws", token: "t" });\n'
        'client.request({ type: "poll-vote", poll: "p1" });\n'
    )
    config = {
        "extends": str(ROOT / "tsconfig.json"),
        "compilerOptions": {"baseUrl": str(ROOT)},
        "include": [str(ROOT / "api/web/static/*.js"), str(wrong)],
    }
    project = tmp_path / "tsconfig.json"
    project.write_text(json.dumps(config))
    result = tsc(project)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert all("wrong.js" in line for line in errors), errors  # the real files stay clean
    assert any("wrong.js(4," in line for line in errors), errors  # text: 42
    assert any("wrong.js(6," in line for line in errors), errors  # a vote without choices
