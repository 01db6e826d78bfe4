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
    message_id: str, pieces: Sequence[str], annotations: Sequence[Any], *, index: int = 0
) -> Iterator[Obj]:
    """`thread.message.delta` data for the text part `index` written in `pieces`.

    Each annotation comes in the delta whose piece ends its span (a citation marker and its
    annotation arrive together), with its own `index`; a `file_citation` gains `quote: ""`.
    """
    pieces = list(pieces) or [""]  # no pieces: one empty delta
    ends: list[int] = []
    offset = 0
    for piece in pieces:
        offset += len(piece)
        ends.append(offset)
    placed: dict[int, list[Obj]] = {}
    for n, note in enumerate(annotations):
        end = note.get("end_index") or 0
        at = next((k for k, stop in enumerate(ends) if stop >= end and stop > 0), len(ends) - 1)
        placed.setdefault(at, []).append(annotation_delta(n, note))
    for n, piece in enumerate(pieces):
        text: Obj = {"value": piece}
        if n == 0 or n in placed:
            text["annotations"] = placed.get(n, [])
        yield {
            "id": message_id,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": index, "type": "text", "text": text}]},
        }


def annotation_delta(index: int, note: Any) -> Obj:
    """Annotation `index` as a `thread.message.delta` carries it (a file_citation: `quote: ""`)."""
    delta: Obj = {"index": index, **note}
    if note.get("type") == "file_citation":  # only the streamed citation carries `quote`
        delta["file_citation"] = {**note["file_citation"], "quote": ""}
    return delta


def image_file_delta(message_id: str, index: int, part: Obj) -> Obj:
    """`thread.message.delta` data for a whole `image_file` content part."""
    return {
        "id": message_id,
        "object": "thread.message.delta",
        "delta": {"content": [{"index": index, **part}]},
    }


def file_search_call(call_id: str, ranking_options: Obj, results: list[Obj]) -> Obj:
    """A `file_search` call as a step holds it; `ranking_options` always present [DN]."""
    return {
        "id": call_id,
        "type": "file_search",
        "file_search": {"ranking_options": ranking_options, "results": results},
    }


def code_interpreter_call(call_id: str, code: str, outputs: list[Obj]) -> Obj:
    """A `code_interpreter` call as a step holds it (outputs: `logs` / `image`)."""
    return {
        "id": call_id,
        "type": "code_interpreter",
        "code_interpreter": {"input": code, "outputs": outputs},
    }


def _step_delta(step_id: str, tool_call: Obj) -> Obj:
    return {
        "id": step_id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": [tool_call]}},
    }


def file_search_delta(step_id: str, index: int, call: Obj) -> Obj:
    """The one step delta of a file_search call: the whole call with `results: []`.

    The SDK adds numbers and joins strings of repeated keys, so the call comes once; its
    results reach clients only in `thread.run.step.completed` [DN FileSearchStreamingWorks].
    """
    search = call["file_search"]
    return _step_delta(
        step_id,
        {
            "index": index,
            "id": call["id"],
            "type": "file_search",
            "file_search": {"ranking_options": dict(search["ranking_options"]), "results": []},
        },
    )


def code_interpreter_deltas(
    step_id: str, index: int, call: Obj, pieces: Sequence[str]
) -> Iterator[Obj]:
    """Step deltas of a code_interpreter call: its head (`input: ""`, `outputs: []`), the input
    in `pieces`, then each output in its own delta with its own `index` [OT; RT §1.6]."""
    kind = "code_interpreter"
    yield _step_delta(
        step_id,
        {"index": index, "id": call["id"], "type": kind, kind: {"input": "", "outputs": []}},
    )
    for piece in pieces:
        yield _step_delta(step_id, {"index": index, "type": kind, kind: {"input": piece}})
    for n, output in enumerate(call[kind]["outputs"]):
        yield _step_delta(
            step_id, {"index": index, "type": kind, kind: {"outputs": [{"index": n, **output}]}}
        )


def step_view(step: Obj, *, include_content: bool) -> Obj:
    """A run step as a client sees it: file_search results lose `content` unless the request
    asked for it with `include[]` (the stored step keeps it)."""
    details = step["step_details"]
    if include_content or details["type"] != "tool_calls":
        return step
    calls = details["tool_calls"]
    if not any(c["type"] == "file_search" and c["file_search"].get("results") for c in calls):
        return step
    stripped = []
    for call in calls:
        if call["type"] == "file_search":
            search = call["file_search"]
            results = [
                {k: v for k, v in r.items() if k != "content"} for r in search.get("results", [])
            ]
            call = {**call, "file_search": {**search, "results": results}}
        stripped.append(call)
    return {**step, "step_details": {**details, "tool_calls": stripped}}


def call_deltas(step_id: str, index: int, call: Obj, pieces: Sequence[str]) -> Iterator[Obj]:
    """`thread.run.step.delta` data for one function call: its head, then its arguments."""
    function = call["function"]
    yield _step_delta(
        step_id,
        {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": "", "output": None},
        },
    )
    for piece in pieces:
        yield _step_delta(
            step_id, {"index": index, "type": "function", "function": {"arguments": piece}}
        )
