"""The seed API documents (copies of ../shared/seeds in ``documents/``) as test data.

The conformance tests take their requests and expected responses from the documents' own
examples: :func:`section` finds a heading and :meth:`Section.examples` returns every JSON
example under it, in order (request bodies, then responses and errors, as written), so a test
sends exactly what the document sends and checks every field the document shows
(:func:`assert_shape`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Section", "assert_shape", "section"]

DOCUMENTS = Path(__file__).resolve().parent / "documents"

_HEADING = re.compile(r"^(#{1,4}) (.+)$", re.M)
_ELLIPSIS_LINE = re.compile(r"^\s*\.\.\.\s*$", re.M)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


@dataclass(frozen=True)
class Section:
    title: str
    text: str

    def examples(self) -> list[Any]:
        """Every JSON value (object, array or string) that starts a line in the section's
        code blocks, in order; ``...`` lines (elided items) are dropped."""
        found: list[Any] = []
        for block in re.findall(r"```[a-z]*\n(.*?)```", self.text, re.S):
            cleaned = _ELLIPSIS_LINE.sub("", block)
            found.extend(_values(cleaned))
        return found

    def requests(self) -> list[str]:
        """The ``METHOD /path`` lines of its code blocks."""
        return re.findall(r"^(?:GET|POST|PUT|PATCH|DELETE) \S+", self.text, re.M)


def _values(text: str) -> list[Any]:
    text = _TRAILING_COMMA.sub(r"\1", text)
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    while index < len(text):
        if (index == 0 or text[index - 1] == "\n") and text[index] in '{["':
            try:
                value, end = decoder.raw_decode(text, index)
            except json.JSONDecodeError:
                index += 1
                continue
            values.append(value)
            index = end
            continue
        index += 1
    return values


def section(document: str, heading: str, *, after: str | None = None) -> Section:
    """The section of ``document`` (``000_daily``...) whose heading contains ``heading``
    (the first one after the heading containing ``after``, when given)."""
    text = (DOCUMENTS / f"{document}.md").read_text()
    matches = list(_HEADING.finditer(text))
    start_at = 0
    if after is not None:
        start_at = next(m.start() for m in matches if after in m.group(2))
    for i, match in enumerate(matches):
        if match.start() < start_at or heading not in match.group(2):
            continue
        level = len(match.group(1))
        end = len(text)
        for nxt in matches[i + 1 :]:
            if len(nxt.group(1)) <= level:
                end = nxt.start()
                break
        return Section(match.group(2), text[match.end() : end])
    raise KeyError(f"no heading {heading!r} in {document}")


def assert_shape(documented: Any, actual: Any, path: str = "$") -> None:
    """Every field the document shows is in ``actual``, recursively, with a value of a
    compatible JSON type (``null`` in the document allows anything; documented lists check
    each actual item against the first documented one)."""
    if documented is None:
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        missing = set(documented) - set(actual)
        assert not missing, f"{path}: missing {sorted(missing)} in {actual!r}"
        for key, value in documented.items():
            assert_shape(value, actual[key], f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        if documented:
            for i, item in enumerate(actual):
                assert_shape(documented[0], item, f"{path}[{i}]")
    elif isinstance(documented, bool):
        assert isinstance(actual, bool), f"{path}: expected a boolean, got {actual!r}"
    elif isinstance(documented, int | float):
        assert not isinstance(actual, bool), f"{path}: expected a number, got {actual!r}"
        assert isinstance(actual, int | float), f"{path}: expected a number, got {actual!r}"
    elif isinstance(documented, str):
        # A documented string may be a placeholder for an id that the server has as null
        # until it exists (recordingId): strings must be strings or null.
        assert actual is None or isinstance(actual, str), (
            f"{path}: expected a string, got {actual!r}"
        )
