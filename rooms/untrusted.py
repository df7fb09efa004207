"""Input from the network, checked once for every edge; output that can always be encoded.

Both edges (REST bodies in ``api``, WebSocket frames in ``signaling``) parse JSON with
:func:`parse_json`, and check already-decoded structures (MessagePack frames) with
:func:`check_tree`. Either raises :class:`InputRefused` for:

- parser bombs: nesting deeper than :data:`MAX_DEPTH` (also ``[`` x 100,000, which would
  otherwise exhaust Python's recursion), numbers longer than :data:`MAX_NUMBER_CHARS`
  characters (a 5,000-digit integer would hit Python's int-size limit), ``NaN``/``Infinity``
  and numbers too large for a float;
- text that cannot be stored or sent: lone UTF-16 surrogates (``"\\ud800"`` is valid JSON
  but no UTF-8 encoder, PostgreSQL or browser text frame takes it) and NUL characters
  (PostgreSQL refuses them in text), in keys and values alike.

Rows written before these checks existed may still hold such text (or NaN, which SQLite's
JSON took). :func:`readable` and :func:`readable_tree` turn it into something every encoder
takes (each lone surrogate becomes U+FFFD, NaN null), so a stored row can always be read;
they cost nothing for ordinary text.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "BadText",
    "InputRefused",
    "bad_text",
    "check_tree",
    "parse_json",
    "readable",
    "readable_tree",
]

#: Deepest nesting of arrays and objects accepted (session metadata is the deepest legitimate
#: input, and a few levels do there).
MAX_DEPTH = 64
#: Longest number literal accepted, in characters (int64 needs 20).
MAX_NUMBER_CHARS = 100


@dataclass(frozen=True, slots=True)
class BadText:
    """One string (a key or a value) that cannot be stored: where, and why."""

    field: str
    reason: str  # "nul_character" | "lone_surrogate"

    @property
    def message(self) -> str:
        if self.reason == "nul_character":
            return "NUL characters are not allowed"
        return "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"


class InputRefused(ValueError):
    """Input the server will not take. ``code`` is ``invalid_json`` (not JSON, or a parser
    bomb: too deep, a huge number) or ``invalid_text`` (``bad`` lists the strings)."""

    def __init__(self, code: str, message: str, *, bad: list[BadText] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.bad = bad or []


def _number(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InputRefused("invalid_json", f"numbers are limited to {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise InputRefused("invalid_json", f"numbers are limited to {MAX_NUMBER_CHARS} characters")
    return float(literal)


def _constant(literal: str) -> float:
    raise InputRefused("invalid_json", f"{literal} is not a JSON number")


def parse_json(raw: bytes | str) -> Any:
    """The JSON value in ``raw``, checked as the module docstring says; raises
    :class:`InputRefused`."""
    try:
        data = json.loads(raw, parse_int=_number, parse_float=_float, parse_constant=_constant)
    except InputRefused:
        raise
    except RecursionError:
        raise InputRefused("invalid_json", f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputRefused("invalid_json", str(exc)) from exc
    check_tree(data)
    return data


def check_tree(data: Any) -> None:
    """Raise :class:`InputRefused` when ``data`` (decoded JSON or MessagePack) nests too deep,
    holds a non-finite number, or holds text that cannot be stored."""
    bad: list[BadText] = []
    _walk(data, (), 0, bad)
    if bad:
        raise InputRefused("invalid_text", "the input holds text that cannot be stored", bad=bad)


def _walk(value: Any, path: tuple[str, ...], depth: int, bad: list[BadText]) -> None:
    if isinstance(value, str):
        reason = bad_text(value)
        if reason:
            bad.append(BadText(".".join(path), reason))
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputRefused("invalid_json", "numbers must be finite")
        return
    if not isinstance(value, dict | list):
        return
    if depth >= MAX_DEPTH:
        raise InputRefused("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            name = readable(key) if isinstance(key, str) else str(key)
            if isinstance(key, str):
                reason = bad_text(key)
                if reason:
                    bad.append(BadText(".".join((*path, name)), reason))
            _walk(item, (*path, name), depth + 1, bad)
    else:
        for index, item in enumerate(value):
            _walk(item, (*path, str(index)), depth + 1, bad)


def bad_text(text: str) -> str | None:
    """Why ``text`` cannot be stored (``nul_character``, ``lone_surrogate``), or None."""
    if "\x00" in text:
        return "nul_character"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "lone_surrogate"
    return None


def readable(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (pairs are joined); ``text``
    itself when it encodes as it is."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def readable_tree(value: Any) -> Any:
    """``value`` (JSON-like) with :func:`readable` applied to every key and string, and
    ``None`` for every NaN or infinity (which JSON cannot carry)."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {readable_tree(k): readable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable_tree(v) for v in value]
    return value
