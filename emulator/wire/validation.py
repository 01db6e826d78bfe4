"""A decoded request body validated into its `wire.requests` model, and pydantic's errors in
the real validator's words: the OpenAI-shaped 400 with its `param` and `code`."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidRequestError
from .requests import METADATA_KEY_MAX, METADATA_VALUE_MAX

BodyT = TypeVar("BodyT", bound=BaseModel)

_TYPE_NAMES: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """How the real validator names the JSON type of `value` (`an object`, `null`, ...)."""
    return _TYPE_NAMES.get(type(value), "a value")


_EXPECTED: dict[str, str] = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def param_path(loc: tuple[int | str, ...]) -> str:
    """`('messages', 0, '~object', 'content')` -> `messages[0].content`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("~"):
            path += f".{part}" if path else part
    return path


def _quote_values(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return (
        ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 2 else " and ".join(quoted)
    )


def translate(error: ValidationError) -> InvalidRequestError:
    """The first pydantic error, worded as the real service words it."""
    first = error.errors(include_url=False)[0]
    kind, loc, value = first["type"], tuple(first["loc"]), first.get("input")
    param = param_path(loc)
    ctx: dict[str, Any] = first.get("ctx") or {}
    shown = json.dumps(value) if not isinstance(value, str) else value
    if kind == "extra_forbidden":
        return InvalidRequestError(
            f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
        )
    if kind == "missing":
        return InvalidRequestError(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind in _EXPECTED:
        got = type_name(value)
        return InvalidRequestError(
            f"Invalid type for '{param}': expected {_EXPECTED[kind]}, but got {got} instead.",
            param=param,
            code="invalid_type",
        )
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return InvalidRequestError(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{limit}, but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    if kind in ("too_long", "too_short"):
        limit = ctx.get("max_length" if kind == "too_long" else "min_length")
        word = "long" if kind == "too_long" else "short"
        bound = "maximum" if kind == "too_long" else "minimum"
        return InvalidRequestError(
            f"Invalid '{param}': array too {word}. Expected an array with {bound} length "
            f"{limit}, but got an array with length {len(value)} instead.",
            param=param,
            code=f"array_{'above_max' if kind == 'too_long' else 'below_min'}_length",
        )
    if kind in ("greater_than_equal", "less_than_equal"):
        if kind == "greater_than_equal":
            text, sign, code = "below minimum", ">=", "below_min_value"
            edge = ctx.get("ge")
        else:
            text, sign, code = "above maximum", "<=", "above_max_value"
            edge = ctx.get("le")
        number = "decimal" if isinstance(edge, float) else "integer"
        if isinstance(edge, float) and edge.is_integer():
            edge = int(edge)
        return InvalidRequestError(
            f"Invalid '{param}': {number} {text} value. Expected a value {sign} {edge}, "
            f"but got {shown} instead.",
            param=param,
            code=f"{number}_{code}",
        )
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        options = [part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part]
        return InvalidRequestError(
            f"Invalid value: '{shown}'. Supported values are: {_quote_values(options)}.",
            param=param,
            code="invalid_value",
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = [tag.strip(" '~") for tag in str(ctx.get("expected_tags", "")).split(",")]
        tag = value.get("type") if isinstance(value, dict) else None
        if tag is None:
            where = f"{param}.type" if param else "type"
            return InvalidRequestError(
                f"Missing required parameter: '{where}'.",
                param=where,
                code="missing_required_parameter",
            )
        return InvalidRequestError(
            f"Invalid value: '{tag}'. Supported values are: {_quote_values(tags)}.",
            param=f"{param}.type" if param else "type",
            code="invalid_value",
        )
    if kind == "missing_required_parameter":
        where = f"{param}.{ctx['param']}" if param else str(ctx["param"])
        return InvalidRequestError(
            f"Missing required parameter: '{where}'.", param=where, code=kind
        )
    if kind == "string_pattern_mismatch":
        return InvalidRequestError(
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            f"the pattern '{ctx.get('pattern')}'.",
            param=param,
            code="invalid_value",
        )
    if kind in ("object_above_max_properties", "string_above_max_length"):
        if kind == "string_above_max_length" and loc and loc[-1] == "metadata":
            param = f"metadata.{_long_key(value)}"
        return InvalidRequestError(first["msg"], param=param, code=kind)
    return InvalidRequestError(
        f"Invalid '{param}': {first['msg']}.", param=param, code="invalid_value"
    )


def _long_key(metadata: Any) -> str:
    if isinstance(metadata, dict):
        for key, item in metadata.items():
            if len(key) > METADATA_KEY_MAX or (
                isinstance(item, str) and len(item) > METADATA_VALUE_MAX
            ):
                return str(key)
    return ""


def _error(error: ValidationError) -> InvalidRequestError:
    translated = translate(error)
    translated.param = translated.param or None
    return translated


def parse(model: type[BodyT], data: Any) -> BodyT:
    """Validate a decoded JSON body; raise the OpenAI-shaped 400 on the first problem."""
    if not isinstance(data, dict):
        raise InvalidRequestError(
            "Invalid body: expected a JSON object.", param=None, code="invalid_type"
        )
    try:  # `model.model_validate(data)` without its Python wrapper, half the time for a body
        return model.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as error:
        raise _error(error) from None
