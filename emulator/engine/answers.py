"""Writing a model's reply into the thread: a text becomes a `message_creation` step and its
assistant message, function calls a `tool_calls` step the run waits on (`requires_action`).

A reply longer than what is left of `max_completion_tokens` is cut to the tokens that fit, in
an `incomplete` message (`max_tokens`), and ends the run `incomplete`
(`max_completion_tokens`); tool calls that do not fit are not made. Streamed text and call
arguments are split by the `chunker` setting, whose pieces must join back to the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings, split_words
from ..state.store import Store
from ..wire import events as shapes
from ..wire import objects
from ..wire.objects import Obj
from . import reply
from .live import LiveHead, assistant_message, continued
from .outcomes import (
    ActionRequired,
    Ending,
    Outcome,
    RunState,
    add_usage,
    complete_step,
    remaining_completion,
)
from .stream import Events
from .tokens import TokenCounter


class Writer:
    """Writes replies into the store and reports them to `Events`."""

    def __init__(self, store: Store, clock: Clock, ids: IdGenerator, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.settings = settings

    def answer_text(
        self,
        run: Obj,
        state: RunState,
        answer: reply.Text,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
        head: LiveHead | None = None,
    ) -> Ending:
        head = continued(head, "message")
        tokens = counter.count(answer.value)
        remaining = remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            cut = counter.truncate(answer.value, remaining)
            used = remaining  # generated, though the text may drop a partial character
            add_usage(state, prompt_tokens, used)
            pieces = prefix_chunks(answer.chunks or self.split(answer.value), cut)
            self.write_message(
                run,
                cut,
                (),
                (prompt_tokens, used),
                events,
                complete=False,
                chunks=pieces,
                head=head,
            )
            return Ending("incomplete", reason="max_completion_tokens")
        add_usage(state, prompt_tokens, tokens)
        self.write_message(
            run,
            answer.value,
            answer.annotations,
            (prompt_tokens, tokens),
            events,
            complete=True,
            chunks=answer.chunks,
            image_files=answer.image_files,
            head=head,
        )
        return Ending("completed")

    def write_message(
        self,
        run: Obj,
        value: str,
        annotations: Sequence[Any],
        usage: tuple[int, int],
        events: Events,
        *,
        complete: bool,
        chunks: Sequence[str] | None = None,
        image_files: Sequence[str] = (),
        head: LiveHead | None = None,
    ) -> None:
        """A `message_creation` step and its assistant message, streamed as deltas: its
        `image_file` parts first, then its text. With a live `head`, the step, the message and
        the text deltas were sent already, with its ids."""
        if head is None:
            now = self.clock.now()
            message_id = self.ids.new("msg")
            step_id = self.ids.new("step")
        else:
            now, step_id = head.created_at, head.step_id
            assert head.message_id is not None
            message_id = head.message_id
        step = objects.step(step_id, now, run=run, step_details=shapes.message_creation(message_id))
        self.store.steps[run["id"]].add(step)
        message = assistant_message(message_id, now, run)
        self.store.messages[run["thread_id"]].add(message)
        if head is None:
            events("thread.run.step.created", step)
            events("thread.run.step.in_progress", step)
            events("thread.message.created", message)
            events("thread.message.in_progress", message)
        images = [{"type": "image_file", "image_file": {"file_id": f}} for f in image_files]
        if events.active and head is None:
            for index, part in enumerate(images):
                events("thread.message.delta", shapes.image_file_delta(message_id, index, part))
            pieces = list(chunks) if chunks is not None else self.split_marked(value, annotations)
            for delta in shapes.text_deltas(message_id, pieces, annotations, index=len(images)):
                events("thread.message.delta", delta)
        message["content"] = [*images, objects.text_part(value, [dict(a) for a in annotations])]
        if complete:
            message["status"] = "completed"
            message["completed_at"] = now
            events("thread.message.completed", message)
        else:
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": "max_tokens"}
            events("thread.message.incomplete", message)
        complete_step(step, self.clock.now(), usage, events)

    def answer_tool_calls(
        self,
        run: Obj,
        state: RunState,
        answer: reply.ToolCalls,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
        head: LiveHead | None = None,
    ) -> Outcome:
        head = continued(head, "tool_calls")
        tokens = sum(counter.count(c.name) + counter.count(c.arguments) for c in answer.calls)
        remaining = remaining_completion(run, state)
        if remaining is not None and tokens > remaining:  # no complete call: no step, no usage
            return Ending("incomplete", reason="max_completion_tokens")
        add_usage(state, prompt_tokens, tokens)
        step = objects.step(
            self.ids.new("step") if head is None else head.step_id,
            self.clock.now() if head is None else head.created_at,
            run=run,
            step_details=shapes.tool_calls_details(),
        )
        self.store.steps[run["id"]].add(step)
        if head is None:
            events("thread.run.step.created", step)
            events("thread.run.step.in_progress", step)
        announced = [c["id"] for _, c in sorted(head.calls.items())] if head is not None else []
        calls = [
            shapes.function_call(
                call.id or (announced[n] if n < len(announced) else self.ids.new("call")),
                call.name,
                call.arguments,
            )
            for n, call in enumerate(answer.calls)
        ]
        if events.active and head is None:
            for index, call in enumerate(calls):
                pieces = self.split(call["function"]["arguments"])
                for delta in shapes.call_deltas(step["id"], index, call, pieces):
                    events("thread.run.step.delta", delta)
        step["step_details"]["tool_calls"] = calls
        state.pending_step_id = step["id"]
        state.pending_usage = (prompt_tokens, tokens)
        return ActionRequired(calls)

    def split_marked(self, value: str, annotations: Sequence[Any]) -> list[str]:
        """Stream pieces that keep each annotated span (a citation marker) whole."""
        if not annotations:
            return self.split(value)
        spans = sorted((a["start_index"], a["end_index"]) for a in annotations)
        pieces: list[str] = []
        at = 0
        for start, end in spans:
            if start < at:  # overlapping spans: split the text as a whole
                return self.split(value)
            if start > at:
                pieces += self.split(value[at:start])
            if end > start:
                pieces.append(value[start:end])
            at = end
        if at < len(value):
            pieces += self.split(value[at:])
        return pieces

    def split(self, value: str) -> list[str]:
        """The stream deltas of a text by the `chunker` setting; they must join back to it."""
        pieces = list(self.settings.chunker(value))
        if not all(isinstance(p, str) for p in pieces) or "".join(pieces) != value:
            raise ValueError(
                f"the chunker split {value[:40]!r} into {pieces[:5]!r}..., which do not join "
                "back to the text"
            )
        return pieces

    def check_chunker(self, answer: reply.Reply) -> None:
        """Split what a reply will stream, streamed or not, so a faulty chunker always fails
        (the built-in one is not: splitting only to check it would be wasted)."""
        if self.settings.chunker is split_words:
            return
        if isinstance(answer, reply.Text) and answer.chunks is None:
            self.split(answer.value)
        elif isinstance(answer, reply.Incomplete) and answer.text:
            self.split(answer.text)
        elif isinstance(answer, reply.ToolCalls):
            for call in answer.calls:
                self.split(call.arguments)
        elif isinstance(answer, reply.CodeInterpreter) and answer.input:
            self.split(answer.input)


def prefix_chunks(pieces: Sequence[str], cut: str) -> list[str]:
    """The deltas of a text cut short: its planned pieces up to the cut."""
    prefix: list[str] = []
    used = 0
    for piece in pieces:
        if used >= len(cut):
            break
        prefix.append(piece[: len(cut) - used])
        used += len(prefix[-1])
    return prefix if "".join(prefix) == cut else [cut]


def check_calls(run: Obj, answer: reply.ToolCalls) -> None:
    """A reply's calls must be ones the run allows; else the responder is at fault."""
    names = {t["function"]["name"] for t in run["tools"] if t["type"] == "function"}
    for call in answer.calls:
        if call.name not in names:
            raise ValueError(
                f"the reply calls function {call.name!r}, which is not among the run's "
                f"function tools {sorted(names)}"
            )
    if len(answer.calls) > 1 and not run["parallel_tool_calls"]:
        raise ValueError("the reply makes parallel tool calls but parallel_tool_calls is false")
    if run["tool_choice"] == "none":
        raise ValueError("the reply calls a tool but tool_choice is 'none'")
    choice = run["tool_choice"]
    if isinstance(choice, dict) and choice.get("type") == "function":
        forced = choice["function"]["name"]
        if any(call.name != forced for call in answer.calls):
            raise ValueError(f"the reply calls another function than tool_choice {forced!r}")
    ids = [call.id for call in answer.calls if call.id is not None]
    if len(set(ids)) != len(ids):
        raise ValueError(f"the reply gives two tool calls the same id: {ids}")


def resolve_files(answer: reply.Text, state: RunState) -> reply.Text:
    """A text's `image_files` and annotation file ids, with names of this run's output files
    replaced by their ids (the newest file of a name wins); annotations in the real key order."""
    if not answer.annotations and not answer.image_files:
        return answer
    names = {name: file_id for c in state.code_calls for file_id, name in c["images"] + c["files"]}
    annotations = tuple(
        {
            "type": a["type"],
            "text": a["text"],
            "start_index": a["start_index"],
            "end_index": a["end_index"],
            a["type"]: {
                **a[a["type"]],
                "file_id": names.get(a[a["type"]]["file_id"], a[a["type"]]["file_id"]),
            },
        }
        for a in answer.annotations
    )
    images = tuple(names.get(image, image) for image in answer.image_files)
    return reply.Text(answer.value, annotations, answer.chunks, images)
