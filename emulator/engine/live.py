"""A live turn: a streamed run whose responder streams (`stream(context)`) sends each delta
as the model produces it. The first delta announces the turn's step (and its message, for a
text); the turn's reply is written later with the ids announced here (`LiveHead`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..wire import events as shapes
from ..wire import objects
from ..wire.objects import Obj
from .stream import Events
from .upstream import CallDelta, TextDelta


@dataclass
class LiveHead:
    """What a live turn announced before its reply was whole: its step, its message (a text
    reply) or its calls by the upstream's index (tool calls)."""

    step_id: str
    created_at: int
    message_id: str | None = None
    texts: int = 0
    annotations: int = 0
    calls: dict[int, Obj] = field(default_factory=dict)


def announce(
    head: LiveHead | None,
    run: Obj,
    delta: object,
    events: Events,
    clock: Clock,
    ids: IdGenerator,
) -> LiveHead:
    """Send one delta of a live turn; its step (and message) are announced with the first.
    Returns the turn's head (new with the first delta).

    The objects are stored when the turn is written, with the ids announced here (drawn in
    the order a turn that is not streamed draws them); a turn dropped meanwhile stores none.
    """
    if head is None:
        now = clock.now()
        if isinstance(delta, TextDelta):
            message_id = ids.new("msg")
            details = shapes.message_creation(message_id)
        else:
            message_id, details = None, shapes.tool_calls_details()
        step = objects.step(ids.new("step"), now, run=run, step_details=details)
        head = LiveHead(step["id"], now, message_id)
        events("thread.run.step.created", step)
        events("thread.run.step.in_progress", step)
        if message_id is not None:
            message = assistant_message(message_id, now, run)
            events("thread.message.created", message)
            events("thread.message.in_progress", message)
    if isinstance(delta, TextDelta) and head.message_id is not None and delta.text:
        text: Obj = {"value": delta.text}
        if not head.texts or delta.annotations:
            first = head.annotations
            text["annotations"] = [
                shapes.annotation_delta(first + n, note) for n, note in enumerate(delta.annotations)
            ]
        head.texts += 1
        head.annotations += len(delta.annotations)
        part = {"index": 0, "type": "text", "text": text}
        events(
            "thread.message.delta",
            {
                "id": head.message_id,
                "object": "thread.message.delta",
                "delta": {"content": [part]},
            },
        )
    elif isinstance(delta, CallDelta) and head.message_id is None:
        call = head.calls.get(delta.index)
        position = len(head.calls)
        pieces = [delta.arguments] if delta.arguments else []
        if call is None:
            call_id = delta.id or ids.new("call")
            call = head.calls[delta.index] = shapes.function_call(call_id, delta.name or "", "")
            deltas = list(shapes.call_deltas(head.step_id, position, call, pieces))
        else:
            position = list(head.calls).index(delta.index)
            deltas = list(shapes.call_deltas(head.step_id, position, call, pieces))[1:]
        for data in deltas:
            events("thread.run.step.delta", data)
    return head


def continued(head: LiveHead | None, kind: str) -> LiveHead | None:
    """The live head a reply of this kind continues (a text's message, calls' step), if any."""
    if head is None or (head.message_id is not None) != (kind == "message"):
        return None
    return head


def assistant_message(message_id: str, now: int, run: Obj) -> Obj:
    return objects.message(
        message_id,
        now,
        thread_id=run["thread_id"],
        role="assistant",
        content=[],
        assistant_id=run["assistant_id"],
        run_id=run["id"],
        status="in_progress",
    )


def closing(deltas: Iterator[object]) -> Iterator[object]:
    """The deltas; closing this closes the responder's stream too (its upstream response)."""
    try:
        yield from deltas
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()
