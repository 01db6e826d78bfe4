"""Strict JSON decoding, shared by request bodies, the control API and snapshots.

RFC 8259 JSON only: `NaN`, `Infinity` and numbers beyond a float (`1e999`) are refused, as the
real service's parser refused them (a body echoed back with them would be invalid JSON for
strict clients), and nesting is limited and checked without recursion.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = ["NotJSON", "TooDeep", "loads"]


class NotJSON(ValueError):
    """The text is not strict JSON."""


class TooDeep(ValueError):
    """The JSON nests deeper than allowed."""


def loads(raw: str | bytes, *, max_depth: int) -> Any:
    """Decode strict JSON nesting at most `max_depth` levels (`NotJSON`, `TooDeep` otherwise).

    UTF-8 bodies (nearly all) go through orjson, five times faster. What it refuses (errors,
    and what the standard parser reads but it does not: other encodings, a BOM, lone
    surrogates) and integers of 19 digits or more (it reads those as floats) take the
    standard parser, which words the errors."""
    data = _orjson(raw)
    if data is _REFUSED:
        data = _standard(raw, max_depth)
    if _brackets(raw) > max_depth and not _shallow(data, max_depth):
        raise TooDeep(f"nested more than {max_depth} levels")
    return data


_REFUSED = object()


def _orjson(raw: str | bytes) -> Any:
    """orjson's reading of a UTF-8 body, or `_REFUSED`: what the standard parser must read."""
    if not isinstance(raw, bytes) or (
        # a long integer needs 19 digits; counting them (one C pass) is 5-20 times faster than
        # the search, which runs only when there are that many
        len(raw.translate(None, _NOT_DIGITS)) >= 19 and _LONG_INTEGER.search(raw) is not None
    ):
        return _REFUSED
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _REFUSED


def _standard(raw: str | bytes, max_depth: int) -> Any:
    try:
        if not isinstance(raw, str):  # as `json.loads` reads bytes: UTF-8, -16 or -32
            raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
        return _DECODER.decode(raw)
    except RecursionError:
        raise TooDeep(f"nested more than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise NotJSON(str(error)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range")
    return value


def _brackets(raw: str | bytes) -> int:
    """An upper bound of the nesting depth: deeper needs at least as many brackets."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


_LONG_INTEGER = re.compile(rb"[0-9]{19}")
_NOT_DIGITS = bytes(set(range(256)) - set(b"0123456789"))
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _shallow(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list) and item:
            if depth > max_depth:
                return False
            stack.extend((child, depth + 1) for child in item)
    return True
