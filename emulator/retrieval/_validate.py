"""The generic 400s of the real request validator, for the JSON this package checks by hand.

The texts follow the forms the emulator already answers for other bodies
(``Unknown parameter: 'x'.``, ``Invalid type for 'x': expected ..., but got ... instead.``,
``Invalid 'x': integer below minimum value. ...``); the filter, attribute and chunking shapes are
recursive or conditional, which is simpler to check here than through pydantic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..wire.errors import InvalidRequestError
from ..wire.validation import type_name


def is_number(value: Any) -> bool:
    """A JSON number: int or finite float, never a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def join(base: str, key: str | int) -> str:
    """``filters`` + ``value`` -> ``filters.value``; ``filters`` + 0 -> ``filters[0]``."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


def quote_values(values: Iterable[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b', and 'c'``."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: Iterable[str]) -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid value: '{value}'. Supported values are: {quote_values(supported)}.",
        param=param,
        code="invalid_value",
    )


def missing(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def unknown(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
    )


def out_of_range(
    param: str,
    value: int | float,
    *,
    minimum: int | float | None = None,
    maximum: int | float | None = None,
    decimal: bool = False,
    note: str = "",
) -> InvalidRequestError | None:
    """The below-minimum / above-maximum 400 for ``value``, or None when it is in range.

    ``decimal`` marks a parameter of type number (``decimal below minimum value``), else the
    value's own type decides.
    """
    number = "decimal" if decimal or isinstance(value, float) else "integer"
    if minimum is not None and value < minimum:
        text, sign, edge, code = "below minimum", ">=", minimum, "below_min_value"
    elif maximum is not None and value > maximum:
        text, sign, edge, code = "above maximum", "<=", maximum, "above_max_value"
    else:
        return None
    return InvalidRequestError(
        f"Invalid '{param}': {number} {text} value. Expected a value {sign} {edge}{note}, "
        f"but got {value} instead.",
        param=param,
        code=f"{number}_{code}",
    )


def check_keys(
    value: Mapping[str, Any], param: str, *, allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Unknown keys first, then missing ones, each in the order the body or schema gives them."""
    allowed = tuple(allowed)
    for key in value:
        if key not in allowed:
            raise unknown(join(param, key))
    for key in required:
        if key not in value:
            raise missing(join(param, key))


def integer(value: Any, param: str) -> int:
    """``value`` as an int; a bool or a float is the invalid-type 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(param, "an integer", value)
    return value
