"""Builders of the shapes a run produces as it moves: step details, tool calls, the
`required_action` of a run, and the `thread.message.delta` / `thread.run.step.delta` events.

Pure functions of their arguments, like `objects`: the engine decides what happens, these say
how it looks on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .objects import Obj


def message_creation(message_id: str) -> Obj:
    """`step_details` of a step that writes a message."""
    return {"type": "message_creation", "message_creation": {"message_id": message_id}}


def tool_calls_details(calls: list[Obj] | None = None) -> Obj:
    """`step_details` of a step that calls functions."""
    return {"type": "tool_calls", "tool_calls": calls if calls is not None else []}


def function_call(call_id: str, name: str, arguments: str) -> Obj:
    """A function call as a step holds it (`output` filled when the client submits it)."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments, "output": None},
    }


def required_action(calls: Sequence[Obj]) -> Obj:
    """A run's `required_action` for the step's function calls (without their outputs)."""
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": call["function"]["arguments"],
                    },
                }
                for call in calls
            ]
        },
    }


def text_deltas(
    message_id: str, pieces: Sequence[str], annotations: Sequence[Any]
) -> Iterator[Obj]:
    """`thread.message.delta` data for a text written in `pieces` (annotations come last)."""
    last = len(pieces) - 1  # no pieces: one empty delta, without the annotations
    for n, piece in enumerate(pieces or [""]):
        text: Obj = {"value": piece}
        if n == 0:
            text["annotations"] = []
        if n == last and annotations:
            text["annotations"] = [{"index": i, **a} for i, a in enumerate(annotations)]
        yield {
            "id": message_id,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
        }


def call_deltas(step_id: str, index: int, call: Obj, pieces: Sequence[str]) -> Iterator[Obj]:
    """`thread.run.step.delta` data for one function call: its head, then its arguments."""

    def delta(tool_call: Obj) -> Obj:
        return {
            "id": step_id,
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
        }

    function = call["function"]
    yield delta(
        {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": "", "output": None},
        }
    )
    for piece in pieces:
        yield delta({"index": index, "type": "function", "function": {"arguments": piece}})
