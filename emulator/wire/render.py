"""Bodies as the service writes them: REST JSON pretty-printed with a 2-space indent, SSE frames
with compact JSON. The only place a response body is written.

`json.dumps(indent=2)` falls back to the pure-Python encoder, which made rendering the largest
cost of a request; `pretty_json` writes the same bytes about three times faster by escaping
strings with the C escaper and building one list of pieces.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _escape
from typing import Any

from .errors import APIError

_INFINITY = float("inf")
DONE_FRAME = b"event: done\ndata: [DONE]\n\n"


def compact_json(value: Any) -> str:
    """The `data:` of an SSE event: JSON without spaces."""
    return json.dumps(value, separators=(",", ":"))


def event_frame(name: str, data: str) -> bytes:
    """One server-sent event (`data` is already JSON)."""
    return f"event: {name}\ndata: {data}\n\n".encode()


def error_frame(error: APIError) -> bytes:
    """A failure in the middle of a stream, as an `error` event.

    The data is wrapped as `{"error": {...}}`: the one shape every SDK line raises `APIError`
    for (the spec's bare Error object is silently dropped by the stream helpers).
    """
    return event_frame("error", compact_json(error.body()))


def pretty_json(value: Any) -> bytes:
    """Exactly `json.dumps(value, indent=2).encode()`, faster for plain JSON data."""
    pieces: list[str] = []
    try:
        _write(value, pieces, "\n")
    except (TypeError, RecursionError):  # unusual keys or values: let json decide
        return json.dumps(value, indent=2).encode()
    return "".join(pieces).encode()


def _write(value: Any, out: list[str], newline: str) -> None:
    if type(value) is str:
        out.append(_escape(value))
    elif type(value) is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"key {key!r} is not a string")
            out.append(separator)
            out.append(_escape(key))
            out.append(": ")
            if type(item) is str:
                out.append(_escape(item))
            else:
                _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif type(value) is list or type(value) is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif type(value) is float:
        out.append(_float(value))
    else:
        raise TypeError(f"{type(value).__name__} is not plain JSON data")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)
