"""The JSON response every part of ``api`` answers with.

Starlette's ``JSONResponse`` fails (a 500, while rendering) on text that UTF-8 cannot carry,
such as a lone surrogate in a row stored before input was checked at the edge. This one
renders such text as U+FFFD instead, so what is stored can always be read; ordinary content
costs what it did. ``tests/api/test_hostile_input.py`` checks that no module of ``api`` uses
Starlette's class directly.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from rooms.untrusted import readable

__all__ = ["JSONResponse"]


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        text = json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        )
        try:
            return text.encode()
        except UnicodeEncodeError:
            return readable(text).encode()
