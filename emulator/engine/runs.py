"""The run state machine: statuses, timestamps, steps, tool calls, expiry, token budgets.

Every transition goes through this module and reports itself to an `Events` sink, so a streamed
request and a plain one walk the same code and leave the same state (the sink only decides
whether the events are kept as SSE frames).

Progress: in the default `"resting"` mode a run is driven to its next resting status
(`requires_action` or terminal) during the request that moved it, while the response still
shows the status the request produced (`queued` for a new run, `cancelling` for a cancel), so
`create_and_poll` finds it finished on its first GET. In `"step"` mode each observation of the
thread (a GET) advances an active run by one status. A hold stops a run at `queued` or
`in_progress` until it is released. A streamed request (either mode) drives its run itself,
one transition per read of its stream, until the run rests (`stream`).

Tokens (formula in `tokens`, rules in `truncation`): each model turn truncates the thread to
its budget, the model's prompt budget capped by what the run's earlier turns left of
`max_prompt_tokens`. A prompt that cannot fit ends the run `incomplete` (`max_prompt_tokens`)
or, without that limit, `failed` (`invalid_prompt`). A reply longer than what is left of
`max_completion_tokens` is cut to the tokens that fit, in an `incomplete` message (`max_tokens`),
and ends the run `incomplete` (`max_completion_tokens`); tool calls that do not fit are not
made. Each step's usage is its turn's prompt and reply; the run's usage is the sum of its
steps (a turn that leaves no step, such as a failure, counts nothing).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..engine import reply
from ..engine.models import ModelInfo
from ..engine.responders import ContextMessage, RunContext, ToolResult, as_reply
from ..engine.tokens import TokenCounter, fixed_prompt_tokens
from ..engine.truncation import (
    PromptIndex,
    PromptMessage,
    TruncationReport,
    TruncationStrategy,
    truncate,
)
from ..state.store import ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES, Obj, clone
from ..wire import objects
from ..wire.errors import InvalidRequestError, not_found

if TYPE_CHECKING:
    from ..backend import Backend

log = logging.getLogger("emulator")

Progress = Literal["resting", "step"]
HoldStatus = Literal["queued", "in_progress"]
RESTING = frozenset({"requires_action"}) | TERMINAL_RUN_STATUSES
EXPIRABLE = frozenset({"queued", "in_progress", "requires_action"})
RESTING_EVENTS = frozenset(f"thread.run.{status}" for status in RESTING)
IMAGE_TEXT = "[image]"


def split_words(text: str) -> list[str]:
    """Default delta split: words and punctuation runs, each with its leading space."""
    return re.findall(r"\s*[\w']+|\s*[^\w\s]+|\s+", text) or [text]


class Events:
    """Where transitions report themselves; keeps compact-JSON SSE frames when `active`.

    `rested` turns true at a run's `requires_action` or terminal event: a stream ends there.
    """

    def __init__(self, active: bool = False) -> None:
        self.active = active
        self.frames: list[tuple[str, str]] = []
        self.rested = False

    def __call__(self, name: str, data: Obj) -> None:
        if self.active:
            self.frames.append((name, json.dumps(data, separators=(",", ":"))))
        if name in RESTING_EVENTS:
            self.rested = True


@dataclass
class RunState:
    """Engine bookkeeping of one run that is not part of the wire object."""

    tool_results: list[ToolResult] = field(default_factory=list)
    new_results: int = 0
    pending_step_id: str | None = None
    pending_usage: tuple[int, int] = (0, 0)
    turn: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reports: list[TruncationReport] = field(default_factory=list)


@dataclass(frozen=True)
class ResponderError:
    """An exception a responder raised (or a reply it could not give); its run failed."""

    run_id: str
    error: BaseException


def _prefix_chunks(pieces: Sequence[str], cut: str) -> list[str]:
    """The deltas of a text cut short: its planned pieces up to the cut."""
    prefix: list[str] = []
    used = 0
    for piece in pieces:
        if used >= len(cut):
            break
        prefix.append(piece[: len(cut) - used])
        used += len(prefix[-1])
    return prefix if "".join(prefix) == cut else [cut]


def prompt_message(message: Obj) -> PromptMessage:
    """A thread message as truncation reads it."""
    return PromptMessage(message["id"], message["role"], message_text(message))


def message_text(message: Obj) -> str:
    """What the model reads of a message: its text parts, images as a placeholder."""
    texts = [
        part["text"]["value"] if part["type"] == "text" else IMAGE_TEXT
        for part in message["content"]
    ]
    return "\n".join(texts)


class RunEngine:
    """Creates runs and moves them through their statuses. Callers hold the store lock."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store = backend.store
        self.settings = backend.settings
        self.states: dict[str, RunState] = {}
        self.prompt_indexes: dict[tuple[str, int], PromptIndex] = {}  # (thread, id(counter))
        self.context_messages: dict[str, ContextMessage] = {}  # kept ones, by message id
        self.responder_errors: list[ResponderError] = []
        self.streams: dict[str, Events] = {}  # run id -> sink of the stream following it

    def clear(self) -> None:
        self.states.clear()
        self.prompt_indexes.clear()
        self.context_messages.clear()
        self.responder_errors.clear()
        self.streams.clear()

    # --- helpers -------------------------------------------------------------------------

    def _now(self) -> int:
        return self.backend.clock.now()

    def _new_id(self, prefix: str) -> str:
        return self.backend.ids.new(prefix)

    def get_run(self, thread_id: str, run_id: str) -> Obj:
        run = self.store.runs[thread_id].get(run_id)
        if run is None:
            raise not_found("run", run_id)
        return run

    # --- creation ------------------------------------------------------------------------

    def create(self, thread_id: str, assistant: Obj, body: Obj, events: Events) -> Obj:
        """Start a run on a thread; returns the run as the request sees it (`queued`)."""
        self.observe(thread_id, poll=False)
        self._ensure_unlocked(thread_id, adding_messages=False)
        additional = body.get("additional_messages") or []
        instructions = body.get("instructions") or assistant.get("instructions")
        has_user = any(m["role"] == "user" for m in additional)
        if not (instructions or body.get("additional_instructions") or has_user) and not (
            self._has_user_message(thread_id)
        ):
            raise InvalidRequestError(
                "Run creation requires a Thread with a user message or an assistant with "
                "instructions.",
                code="invalid_thread",
            )
        for extra in additional:
            self.backend.add_message(thread_id, extra)
        run = objects.run(
            self._new_id("run"), self._now(), thread_id=thread_id, assistant=assistant, body=body
        )
        self.store.add_run(run)
        self.store.active_run[thread_id] = run["id"]
        self.states[run["id"]] = RunState()
        events("thread.run.created", run)
        events("thread.run.queued", run)
        snapshot = clone(run)
        if self.settings.progress == "resting" and not events.active:  # a stream drives itself
            self._advance(run, events, until_resting=True)
        return snapshot

    def _has_user_message(self, thread_id: str) -> bool:
        return any(m["role"] == "user" for m in self.store.messages[thread_id].newest_first())

    def _ensure_unlocked(self, thread_id: str, *, adding_messages: bool) -> None:
        active = self.store.active_run.get(thread_id)
        if active is None:
            return
        if adding_messages:
            raise InvalidRequestError(
                f"Can't add messages to {thread_id} while a run {active} is active."
            )
        raise InvalidRequestError(f"Thread {thread_id} already has an active run {active}.")

    def ensure_can_add_message(self, thread_id: str) -> None:
        self.observe(thread_id, poll=False)
        self._ensure_unlocked(thread_id, adding_messages=True)

    # --- observation and progress --------------------------------------------------------

    def observe(self, thread_id: str, *, poll: bool = True) -> None:
        """Apply what time and progress imply for the thread's active run, as a GET would.

        Requests that change state pass `poll=False`: expiry and resting progress still apply,
        but only reads take a `"step"`-mode step, so a stepped run moves only when looked at.
        """
        run_id = self.store.active_run.get(thread_id)
        if run_id is None:
            return
        run = self.store.runs[thread_id].get(run_id)
        assert run is not None
        events = self._sink(run_id, Events())
        if self._expire_if_due(run, events):
            return
        resting = self.settings.progress == "resting"
        if poll or resting:
            self._advance(run, events, until_resting=resting)

    def _sink(self, run_id: str, events: Events) -> Events:
        """Where a run's transitions go: the stream following the run, if one is open."""
        stream = self.streams.get(run_id)
        return stream if stream is not None and not stream.rested else events

    def stream(self, thread_id: str, run_id: str, events: Events) -> Iterator[tuple[str, str]]:
        """The SSE frames of a streamed request, produced as the client reads them.

        First what the request itself produced, then one run transition per read until the
        run rests (`requires_action` or terminal). Transitions other requests cause meanwhile
        (a cancel, a GET) join this stream, so a client that cancels while handling an event
        reads `thread.run.cancelling` and `thread.run.cancelled` next. A model turn is one
        transition: its message and deltas are written at once. The stream also ends (with
        `done`) when it cannot move on by itself: its run is held, or its thread was deleted.
        """
        with self.store.lock:
            self.streams[run_id] = events
        return self._follow(thread_id, run_id, events)

    def _follow(self, thread_id: str, run_id: str, events: Events) -> Iterator[tuple[str, str]]:
        try:
            while True:
                with self.store.lock:
                    if not events.frames and self.streams.get(run_id) is events:
                        self._stream_step(thread_id, run_id, events)
                    frames, events.frames = events.frames, []
                if not frames:
                    return
                yield from frames
        finally:
            with self.store.lock:
                if self.streams.get(run_id) is events:
                    del self.streams[run_id]

    def _stream_step(self, thread_id: str, run_id: str, events: Events) -> None:
        runs = self.store.runs.get(thread_id)
        run = runs.get(run_id) if runs is not None else None
        if events.rested or run is None or run["status"] in RESTING:
            return
        if not self._expire_if_due(run, events) and not self._held(run):
            self._transition(run, events)

    def _expire_if_due(self, run: Obj, events: Events) -> bool:
        if run["status"] in EXPIRABLE and self._now() > run["expires_at"]:
            self._finish(run, "expired", events)
            return True
        return False

    def _held(self, run: Obj) -> bool:
        hold = self.settings.holds.get(run["id"], self.settings.holds.get(None))
        return hold is not None and hold == run["status"]

    def _advance(self, run: Obj, events: Events, *, until_resting: bool) -> None:
        while run["status"] not in RESTING and not self._held(run):
            self._transition(run, events)
            if not until_resting:
                return

    def _transition(self, run: Obj, events: Events) -> None:
        status = run["status"]
        if status == "queued":
            run["status"] = "in_progress"
            run["started_at"] = self._now()
            events("thread.run.in_progress", run)
        elif status == "in_progress":
            self._take_turn(run, events)
        elif status == "cancelling":
            self._finish(run, "cancelled", events)

    # --- a model turn --------------------------------------------------------------------

    def _take_turn(self, run: Obj, events: Events) -> None:
        state = self.states[run["id"]]
        thread_id = run["thread_id"]
        assistant = self.store.assistants.get(run["assistant_id"])
        if assistant is None:
            self._fail(
                run, events, "server_error", f"No assistant found with id '{run['assistant_id']}'."
            )
            return
        info = self.settings.models.get(run["model"])
        try:
            counter = self.settings.counter_for(info)
            report = self.truncation_for(run, state, info, counter)
        except Exception as error:  # a plugged-in counter is user code too
            self.responder_errors.append(ResponderError(run["id"], error))
            log.error("token counting failed run %s: %r", run["id"], error, exc_info=error)
            self._fail(run, events, "server_error", f"{type(error).__name__}: {error}")
            return
        state.reports.append(report)
        if not report.fits:
            if run["max_prompt_tokens"] is not None:
                self._finish(run, "incomplete", events, reason="max_prompt_tokens")
            else:
                self._fail(
                    run,
                    events,
                    "invalid_prompt",
                    f"The prompt needs {report.prompt_tokens} tokens, more than model "
                    f"'{run['model']}' accepts ({report.budget}).",
                )
            return
        context = RunContext(
            assistant=clone(assistant),
            thread=clone(self.store.threads.get(thread_id) or {}),
            run=clone(run),
            messages=self._context_messages(report),
            tool_outputs=tuple(state.tool_results),
            new_tool_outputs=tuple(
                state.tool_results[len(state.tool_results) - state.new_results :]
            ),
            truncation=report,
            turn=state.turn,
        )
        state.turn += 1
        responder = self.settings.responder_for(assistant)
        try:
            answer = as_reply(responder(context))
            if isinstance(answer, reply.ToolCalls):
                self._check_calls(run, answer)
            self._check_chunker(answer)
        except Exception as error:  # a user's responder must never break the emulator
            self.responder_errors.append(ResponderError(run["id"], error))
            log.error("responder failed run %s: %r", run["id"], error, exc_info=error)
            self._fail(run, events, "server_error", f"{type(error).__name__}: {error}")
            return
        prompt_tokens = report.prompt_tokens
        if isinstance(answer, reply.Text):
            self._answer_text(run, state, answer, prompt_tokens, counter, events)
        elif isinstance(answer, reply.ToolCalls):
            self._answer_tool_calls(run, state, answer, prompt_tokens, counter, events)
        elif isinstance(answer, reply.Failure):
            self._fail(run, events, answer.code, answer.message)  # no step, so no usage
        else:
            written = counter.count(answer.text) if answer.text else 0
            if answer.text:
                self._add_usage(state, prompt_tokens, written)
                self._write_message(
                    run, answer.text, (), prompt_tokens, written, events, complete=False
                )
            self._finish(run, "incomplete", events, reason=answer.reason)

    def truncation_for(
        self, run: Obj, state: RunState, info: ModelInfo, counter: TokenCounter
    ) -> TruncationReport:
        """Which messages the model sees on this turn, within the run's token budget.

        The budget is the model's (ModelInfo.prompt_budget) and, with ``max_prompt_tokens``,
        what the run's earlier turns left of it. The run's tool exchanges follow the thread.
        """
        budget = info.prompt_budget(run["max_completion_tokens"])
        if run["max_prompt_tokens"] is not None:
            budget = min(budget, run["max_prompt_tokens"] - state.prompt_tokens)
        exchanges = [
            PromptMessage(r.call_id, "tool", f"{r.name}({r.arguments}) -> {r.output}", atomic=True)
            for r in state.tool_results
        ]
        # "auto" ignores last_messages; "last_messages" with a null count (allowed) has no limit.
        chosen = run["truncation_strategy"]
        last = chosen.get("last_messages") if chosen["type"] == "last_messages" else None
        strategy = (
            TruncationStrategy() if last is None else TruncationStrategy("last_messages", last)
        )
        return truncate(
            self._prompt_index(run["thread_id"], counter),
            counter=counter,
            budget=budget,
            fixed_tokens=fixed_prompt_tokens(counter, run["instructions"], run["tools"]),
            strategy=strategy,
            extra=exchanges,
        )

    def _prompt_index(self, thread_id: str, counter: TokenCounter) -> PromptIndex:
        """The thread's messages, each counted once per counter, brought up to date."""
        key = (thread_id, id(counter))
        index = self.prompt_indexes.get(key)
        if index is None or index.counter is not counter:
            index = self.prompt_indexes[key] = PromptIndex(counter)
        messages = self.store.messages[thread_id]

        def read(message_id: str) -> PromptMessage:
            message = messages.get(message_id)
            assert message is not None
            return prompt_message(message)

        index.sync(messages.ids(), read)
        return index

    def _context_messages(self, report: TruncationReport) -> tuple[ContextMessage, ...]:
        """The visible messages for the responder; kept ones are built once per message."""
        cache = self.context_messages
        found: list[ContextMessage] = []
        for account in report.visible:
            message = cache.get(account.id) if account.fate == "kept" else None
            if message is None:
                message = ContextMessage(
                    account.id, account.role, account.text, account.fate == "shortened"
                )
                if account.fate == "kept":
                    cache[account.id] = message
            found.append(message)
        return tuple(found)

    def forget_thread(self, thread_id: str) -> None:
        """Drop what the engine caches about a deleted thread's messages."""
        for key in [key for key in self.prompt_indexes if key[0] == thread_id]:
            del self.prompt_indexes[key]
        for message_id in self.store.messages[thread_id].ids():
            self.context_messages.pop(message_id, None)

    def forget_message(self, message_id: str) -> None:
        """Drop what the engine caches about a deleted message (indexes notice on their own)."""
        self.context_messages.pop(message_id, None)

    def _check_calls(self, run: Obj, answer: reply.ToolCalls) -> None:
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

    def _add_usage(self, state: RunState, prompt: int, completion: int) -> None:
        state.prompt_tokens += prompt
        state.completion_tokens += completion

    def _remaining_completion(self, run: Obj, state: RunState) -> int | None:
        limit = run["max_completion_tokens"]
        return None if limit is None else max(limit - state.completion_tokens, 0)

    def _answer_text(
        self,
        run: Obj,
        state: RunState,
        answer: reply.Text,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
    ) -> None:
        tokens = counter.count(answer.value)
        remaining = self._remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            cut = counter.truncate(answer.value, remaining)
            used = counter.count(cut)
            self._add_usage(state, prompt_tokens, used)
            pieces = _prefix_chunks(answer.chunks or self._split(answer.value), cut)
            self._write_message(
                run, cut, (), prompt_tokens, used, events, complete=False, chunks=pieces
            )
            self._finish(run, "incomplete", events, reason="max_completion_tokens")
            return
        self._add_usage(state, prompt_tokens, tokens)
        self._write_message(
            run,
            answer.value,
            answer.annotations,
            prompt_tokens,
            tokens,
            events,
            complete=True,
            chunks=answer.chunks,
        )
        self._finish(run, "completed", events)

    def _write_message(
        self,
        run: Obj,
        value: str,
        annotations: Sequence[Any],
        prompt_tokens: int,
        completion_tokens: int,
        events: Events,
        *,
        complete: bool,
        chunks: Sequence[str] | None = None,
    ) -> None:
        """A `message_creation` step and its assistant message, streamed as deltas."""
        now = self._now()
        message_id = self._new_id("msg")
        step = objects.step(
            self._new_id("step"),
            now,
            run=run,
            step_details={
                "type": "message_creation",
                "message_creation": {"message_id": message_id},
            },
        )
        self.store.steps[run["id"]].add(step)
        events("thread.run.step.created", step)
        events("thread.run.step.in_progress", step)
        message = objects.message(
            message_id,
            now,
            thread_id=run["thread_id"],
            role="assistant",
            content=[],
            assistant_id=run["assistant_id"],
            run_id=run["id"],
            status="in_progress",
        )
        self.store.messages[run["thread_id"]].add(message)
        events("thread.message.created", message)
        events("thread.message.in_progress", message)
        if events.active:
            for delta in self._text_deltas(message_id, value, annotations, chunks):
                events("thread.message.delta", delta)
        message["content"] = [objects.text_part(value, [dict(a) for a in annotations])]
        if complete:
            message["status"] = "completed"
            message["completed_at"] = now
            events("thread.message.completed", message)
        else:
            message["status"] = "incomplete"
            message["incomplete_at"] = now
            message["incomplete_details"] = {"reason": "max_tokens"}
            events("thread.message.incomplete", message)
        self._complete_step(step, prompt_tokens, completion_tokens, events)

    def _split(self, value: str) -> list[str]:
        """The stream deltas of a text by the `chunker` setting; they must join back to it."""
        pieces = list(self.settings.chunker(value))
        if not all(isinstance(p, str) for p in pieces) or "".join(pieces) != value:
            raise ValueError(
                f"the chunker split {value[:40]!r} into {pieces[:5]!r}..., which do not join "
                "back to the text"
            )
        return pieces

    def _check_chunker(self, answer: reply.Reply) -> None:
        """Split what a reply will stream, streamed or not, so a faulty chunker always fails."""
        if isinstance(answer, reply.Text) and answer.chunks is None:
            self._split(answer.value)
        elif isinstance(answer, reply.Incomplete) and answer.text:
            self._split(answer.text)
        elif isinstance(answer, reply.ToolCalls):
            for call in answer.calls:
                self._split(call.arguments)

    def _text_deltas(
        self, message_id: str, value: str, annotations: Sequence[Any], chunks: Sequence[str] | None
    ) -> Iterator[Obj]:
        pieces = list(chunks) if chunks is not None else self._split(value)
        for n, piece in enumerate(pieces or [""]):
            text: Obj = {"value": piece}
            if n == 0:
                text["annotations"] = []
            if n == len(pieces) - 1 and annotations:
                text["annotations"] = [{"index": i, **a} for i, a in enumerate(annotations)]
            yield {
                "id": message_id,
                "object": "thread.message.delta",
                "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
            }

    def _complete_step(
        self, step: Obj, prompt_tokens: int, completion_tokens: int, events: Events
    ) -> None:
        step["status"] = "completed"
        step["completed_at"] = self._now()
        step["usage"] = objects.usage(prompt_tokens, completion_tokens)
        events("thread.run.step.completed", step)

    def _answer_tool_calls(
        self,
        run: Obj,
        state: RunState,
        answer: reply.ToolCalls,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
    ) -> None:
        tokens = sum(counter.count(c.name) + counter.count(c.arguments) for c in answer.calls)
        remaining = self._remaining_completion(run, state)
        if remaining is not None and tokens > remaining:  # no complete call: no step, no usage
            self._finish(run, "incomplete", events, reason="max_completion_tokens")
            return
        self._add_usage(state, prompt_tokens, tokens)
        step = objects.step(
            self._new_id("step"),
            self._now(),
            run=run,
            step_details={"type": "tool_calls", "tool_calls": []},
        )
        self.store.steps[run["id"]].add(step)
        events("thread.run.step.created", step)
        events("thread.run.step.in_progress", step)
        calls: list[Obj] = [
            {
                "id": call.id or self._new_id("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments, "output": None},
            }
            for call in answer.calls
        ]
        if events.active:
            for index, call in enumerate(calls):
                for delta in self._call_deltas(step["id"], index, call):
                    events("thread.run.step.delta", delta)
        step["step_details"]["tool_calls"] = calls
        state.pending_step_id = step["id"]
        state.pending_usage = (prompt_tokens, tokens)
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {
                            "name": c["function"]["name"],
                            "arguments": c["function"]["arguments"],
                        },
                    }
                    for c in calls
                ]
            },
        }
        events("thread.run.requires_action", run)

    def _call_deltas(self, step_id: str, index: int, call: Obj) -> Iterator[Obj]:
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
        for piece in self._split(function["arguments"]):
            yield delta({"index": index, "type": "function", "function": {"arguments": piece}})

    # --- client actions on a run ---------------------------------------------------------

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: list[Obj], events: Events
    ) -> Obj:
        """Fill the pending tool calls and send the run back to `queued`."""
        self.observe(thread_id, poll=False)
        run = self.get_run(thread_id, run_id)
        if run["status"] != "requires_action":
            raise InvalidRequestError(
                f'Runs in status "{run["status"]}" do not accept tool outputs.'
            )
        state = self.states[run_id]
        calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
        expected = [c["id"] for c in calls]
        got = [o["tool_call_id"] for o in outputs]
        if sorted(expected) != sorted(got):
            raise InvalidRequestError(f"Expected tool outputs for call_ids {expected}, got {got}")
        by_id = {o["tool_call_id"]: o["output"] for o in outputs}
        step = self.store.steps[run_id].get(state.pending_step_id or "")
        assert step is not None
        for call in step["step_details"]["tool_calls"]:
            function = call["function"]
            function["output"] = by_id[call["id"]]
            state.tool_results.append(
                ToolResult(call["id"], function["name"], function["arguments"], function["output"])
            )
        state.new_results = len(outputs)
        state.pending_step_id = None
        self._complete_step(step, *state.pending_usage, events)
        run["status"] = "queued"
        run["required_action"] = None
        events("thread.run.queued", run)
        snapshot = clone(run)
        if self.settings.progress == "resting" and not events.active:  # a stream drives itself
            self._advance(run, events, until_resting=True)
        return snapshot

    def cancel(self, thread_id: str, run_id: str, events: Events) -> Obj:
        """Ask a run to stop: it shows `cancelling`, then becomes `cancelled`."""
        self.observe(thread_id, poll=False)
        run = self.get_run(thread_id, run_id)
        if run["status"] not in ACTIVE_RUN_STATUSES:
            raise InvalidRequestError(f"Cannot cancel run with status '{run['status']}'.")
        events = self._sink(run_id, events)
        if run["status"] != "cancelling":
            run["status"] = "cancelling"
            run["required_action"] = None
            events("thread.run.cancelling", run)
        snapshot = clone(run)
        if self.settings.progress == "resting":
            self._advance(run, events, until_resting=True)
        return snapshot

    # --- endings -------------------------------------------------------------------------

    def _fail(self, run: Obj, events: Events, code: str, message: str) -> None:
        self._finish(run, "failed", events, error={"code": code, "message": message})

    def _finish(
        self,
        run: Obj,
        status: str,
        events: Events,
        *,
        reason: str | None = None,
        error: Obj | None = None,
    ) -> None:
        """Move a run to a terminal status, settle its steps and unlock its thread."""
        now = self._now()
        state = self.states[run["id"]]
        step_status = {"cancelled": "cancelled", "failed": "failed", "expired": "expired"}.get(
            status
        )
        for step in self.store.steps[run["id"]]:
            if step["status"] == "in_progress" and step_status is not None:
                if step["id"] == state.pending_step_id:  # its turn's tokens were spent
                    step["usage"] = objects.usage(*state.pending_usage)
                    state.pending_step_id = None
                step["status"] = step_status
                if step_status == "cancelled":
                    step["cancelled_at"] = now
                elif step_status == "failed":
                    step["failed_at"] = now
                    step["last_error"] = dict(error or {"code": "server_error", "message": ""})
                else:
                    step["expired_at"] = now
                events(f"thread.run.step.{step_status}", step)
            if status != "expired":
                step["expires_at"] = None
        run["status"] = status
        run["required_action"] = None
        if status != "expired":
            run["expires_at"] = None  # an expired run keeps it: expires_at - created_at == 600
        if status in ("completed", "incomplete"):
            run["completed_at"] = now
        elif status == "cancelled":
            run["cancelled_at"] = now
        elif status == "failed":
            run["failed_at"] = now
            run["last_error"] = error
        if reason is not None:
            run["incomplete_details"] = {"reason": reason}
        run["usage"] = objects.usage(state.prompt_tokens, state.completion_tokens)
        self.store.active_run.pop(run["thread_id"], None)
        events(f"thread.run.{status}", run)
