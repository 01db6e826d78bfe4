"""Vector store file ``attributes`` and the search ``filters`` over them: validation and matching.

Shapes and limits are the spec's (``VectorStoreFileAttributes``, ``ComparisonFilter``,
``CompoundFilter``); the real validator texts for them are unknown, so the 400s use the generic
forms the service gives elsewhere. The real semantics for missing keys and mixed types are
unknown too; the emulator's rules (files-vector-stores.md §7):

* a file without the key matches no comparison, ``ne`` and ``nin`` included;
* ``eq``/``ne`` compare values of the same type only (numbers as numbers, so ``1 == 1.0``;
  strings case-sensitively; a boolean never equals a number); an array value equals nothing;
* ``gt``/``gte``/``lt``/``lte`` compare numbers only;
* ``in``/``nin`` test membership with the same equality (a scalar value acts as a one-item list);
* ``and`` of no filters is true, ``or`` of none is false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ..wire.errors import InvalidRequestError
from . import _validate as v

__all__ = [
    "ATTRIBUTES_KEY_MAX",
    "ATTRIBUTES_MAX_KEYS",
    "ATTRIBUTES_VALUE_MAX",
    "COMPARISON_TYPES",
    "COMPOUND_TYPES",
    "MAX_FILTER_DEPTH",
    "AttributeValue",
    "Attributes",
    "ComparisonFilter",
    "CompoundFilter",
    "Filter",
    "parse_filter",
    "validate_attributes",
]

ATTRIBUTES_MAX_KEYS = 16
ATTRIBUTES_KEY_MAX = 64
ATTRIBUTES_VALUE_MAX = 512
MAX_FILTER_DEPTH = 32
"""How deep compound filters may nest (the spec sets no limit; this keeps recursion bounded)."""

COMPARISON_TYPES = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin")
COMPOUND_TYPES = ("and", "or")

AttributeValue: TypeAlias = str | int | float | bool
Attributes: TypeAlias = Mapping[str, AttributeValue]
FilterValue: TypeAlias = str | int | float | bool | tuple[str | int | float, ...]
ComparisonType = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]


def _same(left: AttributeValue, right: object) -> bool:
    """Equality within one JSON type: bools, numbers (as floats) or strings."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    return v.is_number(right) and float(left) == float(right)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ComparisonFilter:
    """``{type, key, value}``: compare one attribute with a value."""

    type: ComparisonType
    key: str
    value: FilterValue

    def matches(self, attributes: Attributes | None) -> bool:
        """Whether a file with these attributes passes (see the module docstring for the rules)."""
        if not attributes or self.key not in attributes:
            return False
        actual = attributes[self.key]
        if self.type in ("in", "nin"):
            options = self.value if isinstance(self.value, tuple) else (self.value,)
            found = any(_same(actual, option) for option in options)
            return found if self.type == "in" else not found
        if self.type == "eq":
            return _same(actual, self.value)
        if self.type == "ne":
            return not _same(actual, self.value)
        if not (v.is_number(actual) and v.is_number(self.value)):
            return False
        left, right = float(actual), float(self.value)  # type: ignore[arg-type]
        if self.type == "gt":
            return left > right
        if self.type == "gte":
            return left >= right
        if self.type == "lt":
            return left < right
        return left <= right

    def to_wire(self) -> dict[str, Any]:
        """The filter as JSON, arrays as lists."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"type": self.type, "key": self.key, "value": value}


@dataclass(frozen=True, slots=True)
class CompoundFilter:
    """``{type: "and" | "or", filters: [...]}``, nestable."""

    type: Literal["and", "or"]
    filters: tuple[Filter, ...]

    def matches(self, attributes: Attributes | None) -> bool:
        """``all`` for ``and``, ``any`` for ``or``."""
        if self.type == "and":
            return all(item.matches(attributes) for item in self.filters)
        return any(item.matches(attributes) for item in self.filters)

    def to_wire(self) -> dict[str, Any]:
        """The filter as JSON."""
        return {"type": self.type, "filters": [item.to_wire() for item in self.filters]}


Filter: TypeAlias = ComparisonFilter | CompoundFilter


def parse_filter(value: Any, *, param: str = "filters") -> Filter:
    """Validate a ``filters`` JSON value into a Filter; the first problem is a 400 naming it."""
    return _parse(value, param, depth=1)


def _parse(value: Any, param: str, depth: int) -> Filter:
    if not isinstance(value, dict):
        raise v.invalid_type(param, "an object", value)
    if "type" not in value:
        raise v.missing(v.join(param, "type"))
    kind = value["type"]
    if kind in COMPOUND_TYPES:
        return _parse_compound(value, param, depth)
    if kind in COMPARISON_TYPES:
        return _parse_comparison(value, param)
    if not isinstance(kind, str):
        raise v.invalid_type(v.join(param, "type"), "a string", kind)
    raise v.invalid_value(v.join(param, "type"), kind, COMPARISON_TYPES + COMPOUND_TYPES)


def _parse_compound(value: dict[str, Any], param: str, depth: int) -> CompoundFilter:
    v.check_keys(value, param, allowed=("type", "filters"), required=("filters",))
    items = value["filters"]
    where = v.join(param, "filters")
    if not isinstance(items, list):
        raise v.invalid_type(where, "an array", items)
    if depth >= MAX_FILTER_DEPTH and items:
        raise InvalidRequestError(
            f"Invalid '{where}': filters nested too deeply. Expected at most "
            f"{MAX_FILTER_DEPTH} levels of compound filters.",
            param=where,
            code="invalid_value",
        )
    parsed = tuple(_parse(item, v.join(where, i), depth + 1) for i, item in enumerate(items))
    return CompoundFilter(type=value["type"], filters=parsed)


def _parse_comparison(value: dict[str, Any], param: str) -> ComparisonFilter:
    v.check_keys(value, param, allowed=("type", "key", "value"), required=("key", "value"))
    key, raw = value["key"], value["value"]
    if not isinstance(key, str):
        raise v.invalid_type(v.join(param, "key"), "a string", key)
    where = v.join(param, "value")
    parsed: FilterValue
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            if not (isinstance(item, str) or v.is_number(item)):
                raise v.invalid_type(v.join(where, i), "one of a string or a number", item)
        parsed = tuple(raw)
    elif isinstance(raw, str | bool) or v.is_number(raw):
        parsed = raw
    else:
        raise v.invalid_type(where, "one of a string, a number, a boolean, or an array", raw)
    return ComparisonFilter(type=value["type"], key=key, value=parsed)


def validate_attributes(value: Any, *, param: str = "attributes") -> dict[str, AttributeValue]:
    """Check ``attributes`` against the spec's limits; ``None`` means none (``{}``).

    At most 16 keys, keys up to 64 characters, values strings (up to 512 characters), numbers or
    booleans. Returns a copy, so later changes to the request body cannot reach the store.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise v.invalid_type(param, "an object", value)
    if len(value) > ATTRIBUTES_MAX_KEYS:
        raise InvalidRequestError(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{ATTRIBUTES_MAX_KEYS} properties, but got an object with {len(value)} properties "
            "instead.",
            param=param,
            code="object_above_max_properties",
        )
    for key, item in value.items():
        where = v.join(param, key)
        if len(key) > ATTRIBUTES_KEY_MAX:
            raise InvalidRequestError(
                f"Invalid property name in '{param}': '{key}' is too long. Expected a string "
                f"with maximum length {ATTRIBUTES_KEY_MAX}, but got a string with length "
                f"{len(key)} instead.",
                param=where,
                code="string_above_max_length",
            )
        if isinstance(item, str):
            if len(item) > ATTRIBUTES_VALUE_MAX:
                raise InvalidRequestError(
                    f"Invalid '{where}': string too long. Expected a string with maximum length "
                    f"{ATTRIBUTES_VALUE_MAX}, but got a string with length {len(item)} instead.",
                    param=where,
                    code="string_above_max_length",
                )
        elif not (isinstance(item, bool) or v.is_number(item)):
            raise v.invalid_type(where, "one of a string, a number, or a boolean", item)
    return dict(value)
