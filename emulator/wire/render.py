"""Bodies as the service writes them: REST JSON pretty-printed with a 2-space indent, SSE frames
with compact JSON, non-ASCII characters escaped as `\\uXXXX` either way (as `json.dumps` does).
The only place a response body is written.

orjson writes both forms about twenty times faster than the standard library, which made
rendering the largest single cost of a request; what it cannot write (integers beyond 64 bits,
non-string keys, lone surrogates) is written by `json` instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from .errors import APIError

DONE_FRAME = b"event: done\ndata: [DONE]\n\n"


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """The `data:` of an SSE event: JSON without spaces (`sort_keys`: keys in sorted order)."""
    try:
        option = orjson.OPT_SORT_KEYS if sort_keys else None
        return _ascii(orjson.dumps(value, option=option)).decode("ascii")
    except TypeError:
        return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)


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
    """`json.dumps(value, indent=2).encode()`, written by orjson (floats may be spelled otherwise,
    `1e-05` as `0.00001`, and NaN or infinities, never valid JSON, as `null`)."""
    try:
        return _ascii(orjson.dumps(value, option=orjson.OPT_INDENT_2))
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, indent=2).encode()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _ascii(body: bytes) -> bytes:
    """orjson's UTF-8 with every non-ASCII character as a JSON escape, as `json.dumps` writes
    it: outside strings JSON is ASCII, so the whole text can be rewritten at once."""
    if body.isascii():
        return body
    return _NON_ASCII.sub(_escape, body.decode()).encode()


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: a UTF-16 surrogate pair
    return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
