"""What a responder can answer for one model turn: text, tool calls, a failure, an early end.

Build replies with the functions here (`reply.text(...)`, `reply.tool_call(...)`, ...); a plain
`str` returned by a responder means `reply.text(that_string)`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
IncompleteReason = Literal["max_completion_tokens", "max_prompt_tokens"]


@dataclass(frozen=True)
class Text:
    """An assistant message; `chunks` fixes how a stream splits it into deltas."""

    value: str
    annotations: tuple[Mapping[str, Any], ...] = ()
    chunks: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.chunks is not None and "".join(self.chunks) != self.value:
            raise ValueError("the chunks of a text reply must join to its value")


@dataclass(frozen=True)
class ToolCall:
    """One function call; `arguments` is kept as the exact JSON string the model would send."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class ToolCalls:
    """One or several (parallel) function calls: the run goes to `requires_action`."""

    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class Failure:
    """The run fails with this `last_error`."""

    code: ErrorCode = "server_error"
    message: str = "Sorry, something went wrong."


@dataclass(frozen=True)
class Incomplete:
    """The run ends `incomplete`; `text`, if any, is left as an incomplete message."""

    reason: IncompleteReason = "max_completion_tokens"
    text: str | None = None


Reply = Text | ToolCalls | Failure | Incomplete


def _arguments(arguments: Mapping[str, Any] | str | None) -> str:
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, separators=(",", ":"))


def text(
    value: str,
    *,
    annotations: Sequence[Mapping[str, Any]] = (),
    chunks: Sequence[str] | None = None,
) -> Text:
    """Reply with an assistant message. `chunks` (joining to `value`) sets the stream deltas."""
    return Text(value, tuple(annotations), tuple(chunks) if chunks is not None else None)


def call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
) -> ToolCall:
    """One function call for `tool_calls(...)`; dict arguments are sent as compact JSON."""
    return ToolCall(name, _arguments(arguments), id)


def tool_call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
) -> ToolCalls:
    """Reply with a single function call."""
    return ToolCalls((call(name, arguments, id=id),))


def tool_calls(*calls: ToolCall) -> ToolCalls:
    """Reply with several function calls in one turn (parallel tool calls)."""
    if not calls:
        raise ValueError("tool_calls() needs at least one call")
    return ToolCalls(tuple(calls))


def fail(
    code: ErrorCode = "server_error", message: str = "Sorry, something went wrong."
) -> Failure:
    """Make the run fail with `last_error = {code, message}`."""
    return Failure(code, message)


def incomplete(
    reason: IncompleteReason = "max_completion_tokens", text: str | None = None
) -> Incomplete:
    """End the run `incomplete` with `incomplete_details.reason`, optionally after partial text."""
    return Incomplete(reason, text)


def from_data(data: Mapping[str, Any] | str) -> Reply:
    """A reply from plain data, as written in JSON script files.

    `"hi"` or `{"text": "hi"}`; `{"tool_call": {"name": ..., "arguments": {...}}}`;
    `{"tool_calls": [{"name": ..., "arguments": ...}, ...]}`; `{"fail": {"code", "message"}}`;
    `{"incomplete": {"reason", "text"}}`.
    """
    if isinstance(data, str):
        return text(data)
    if not isinstance(data, Mapping) or len(data) != 1:
        raise ValueError(f"a scripted reply is a string or an object with one key, not {data!r}")
    ((kind, value),) = data.items()
    if kind == "text":
        if isinstance(value, str):
            return text(value)
        return text(
            value["value"], annotations=value.get("annotations", ()), chunks=value.get("chunks")
        )
    if kind == "tool_call":
        return tool_call(value["name"], value.get("arguments"), id=value.get("id"))
    if kind == "tool_calls":
        return tool_calls(*(call(c["name"], c.get("arguments"), id=c.get("id")) for c in value))
    if kind == "fail":
        return fail(**value) if isinstance(value, Mapping) else fail(value)
    if kind == "incomplete":
        return incomplete(**value) if isinstance(value, Mapping) else incomplete(value)
    raise ValueError(
        f"unknown reply kind {kind!r}; expected text, tool_call, tool_calls, fail or incomplete"
    )
