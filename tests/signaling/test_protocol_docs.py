"""The files generated from the protocol's models are checked in up to date.

``python -m signaling.protocol_docs`` regenerates them (CONTRIBUTING.md); this test fails when
a model, a close code or a field's description changed and a generated file did not follow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rooms.protocol_models import CLIENT_MESSAGES, SERVER_MESSAGES, type_of
from signaling.protocol_docs import ROOT, generated_files


@pytest.mark.parametrize("path", sorted(generated_files()), ids=str)
def test_generated_file_is_current(path: Path) -> None:
    due = generated_files()[path]
    committed = (ROOT / path).read_text() if (ROOT / path).exists() else ""
    assert committed == due, f"{path} is stale: run `python -m signaling.protocol_docs`"


def test_the_schema_has_every_message_of_both_directions() -> None:
    schema = json.loads(generated_files()[Path("docs/protocol.schema.json")])
    for direction, models in (("client", CLIENT_MESSAGES), ("server", SERVER_MESSAGES)):
        mapping = schema["properties"][direction]["discriminator"]["mapping"]
        assert set(mapping) == {type_of(m) for m in models}


def test_the_docs_and_the_js_types_name_every_message() -> None:
    files = generated_files()
    markdown, js = files[Path("docs/protocol.md")], files[Path("api/web/static/protocol.js")]
    for model in (*CLIENT_MESSAGES, *SERVER_MESSAGES):
        assert f"### `{type_of(model)}` ({model.__name__})" in markdown
        assert f"@typedef {{Object}} {model.__name__}" in js
