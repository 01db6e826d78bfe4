"""The run state machine: statuses, timestamps, steps, tool calls, expiry, token budgets.

Every transition goes through this module and reports itself to an `Events` sink, so a streamed
request and a plain one walk the same code and leave the same state (the sink only decides
whether the events are kept as SSE frames).

Progress: in the default `"resting"` mode a run is driven to its next resting status
(`requires_action` or terminal) during the request that moved it, while the response still
shows the status the request produced (`queued` for a new run, `cancelling` for a cancel), so
`create_and_poll` finds it finished on its first GET. In `"step"` mode each observation of the
thread (a GET) advances an active run by one status. A hold stops a run at `queued` or
`in_progress` until it is released.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from . import objects, reply
from .errors import InvalidRequestError, not_found
from .models import ModelInfo
from .responders import ContextMessage, RunContext, ToolResult, as_reply
from .store import ACTIVE_RUN_STATUSES, TERMINAL_RUN_STATUSES, Collection, Obj
from .tokens import TokenCounter, fixed_prompt_tokens
from .truncation import PromptMessage, TruncationReport, TruncationStrategy, truncate

if TYPE_CHECKING:
    from .backend import Backend

log = logging.getLogger("emulator")

Progress = Literal["resting", "step"]
HoldStatus = Literal["queued", "in_progress"]
RESTING = frozenset({"requires_action"}) | TERMINAL_RUN_STATUSES
EXPIRABLE = frozenset({"queued", "in_progress", "requires_action"})
IMAGE_TEXT = "[image]"


def split_words(text: str) -> list[str]:
    """Default delta split: words and punctuation runs, each with its leading space."""
    return re.findall(r"\s*[\w']+|\s*[^\w\s]+|\s+", text) or [text]


class Events:
    """Where transitions report themselves; keeps compact-JSON SSE frames when `active`."""

    def __init__(self, active: bool = False) -> None:
        self.active = active
        self.frames: list[tuple[str, str]] = []

    def __call__(self, name: str, data: Obj) -> None:
        if self.active:
            self.frames.append((name, json.dumps(data, separators=(",", ":"))))


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


class _ThreadPrompt(Sequence[PromptMessage]):
    """The thread's messages plus this run's tool exchanges, as the truncation reads them.

    Built lazily from the newest end, so a run on a long thread touches only what it keeps.
    """

    def __init__(
        self,
        ids: list[str],
        messages: Collection,
        cache: dict[str, PromptMessage],
        extra: list[PromptMessage],
    ) -> None:
        self._ids, self._messages, self._cache, self._extra = ids, messages, cache, extra

    def __len__(self) -> int:
        return len(self._ids) + len(self._extra)

    @overload
    def __getitem__(self, index: int) -> PromptMessage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PromptMessage]: ...
    def __getitem__(self, index: int | slice) -> PromptMessage | Sequence[PromptMessage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        if index >= len(self._ids):
            return self._extra[index - len(self._ids)]
        message_id = self._ids[index]
        prompt = self._cache.get(message_id)
        if prompt is None:
            message = self._messages.get(message_id)
            assert message is not None
            prompt = PromptMessage(message_id, message["role"], message_text(message))
            self._cache[message_id] = prompt
        return prompt


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
        self.prompt_cache: dict[str, PromptMessage] = {}
        self.responder_errors: list[ResponderError] = []

    def clear(self) -> None:
        self.states.clear()
        self.prompt_cache.clear()
        self.responder_errors.clear()

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
        self.observe(thread_id)
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
        snapshot = copy.deepcopy(run)
        if self.settings.progress == "resting":
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
        self.observe(thread_id)
        self._ensure_unlocked(thread_id, adding_messages=True)

    # --- observation and progress --------------------------------------------------------

    def observe(self, thread_id: str) -> None:
        """Apply what time and progress imply for the thread's active run, as a GET would."""
        run_id = self.store.active_run.get(thread_id)
        if run_id is None:
            return
        run = self.store.runs[thread_id].get(run_id)
        assert run is not None
        events = Events()
        if self._expire_if_due(run, events):
            return
        self._advance(run, events, until_resting=self.settings.progress == "resting")

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
        counter = self.settings.counter_for(info)
        report = self.truncation_for(run, state, info, counter)
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
            assistant=copy.deepcopy(assistant),
            thread=copy.deepcopy(self.store.threads.get(thread_id) or {}),
            run=copy.deepcopy(run),
            messages=tuple(
                ContextMessage(a.id, a.role, a.text, a.fate == "shortened") for a in report.visible
            ),
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
            self._add_usage(state, prompt_tokens, 0)
            self._fail(run, events, answer.code, answer.message)
        else:
            self._add_usage(state, prompt_tokens, 0)
            if answer.text:
                self._write_message(
                    run,
                    answer.text,
                    (),
                    prompt_tokens,
                    counter.count(answer.text),
                    events,
                    complete=False,
                )
            self._finish(run, "incomplete", events, reason=answer.reason)

    def truncation_for(
        self, run: Obj, state: RunState, info: ModelInfo, counter: TokenCounter
    ) -> TruncationReport:
        """Which messages the model sees on this turn, within the run's token budget."""
        room = min(run["max_completion_tokens"] or info.max_output_tokens, info.max_output_tokens)
        budget = info.context_window - room
        if run["max_prompt_tokens"] is not None:
            budget = min(budget, run["max_prompt_tokens"] - state.prompt_tokens)
        exchanges = [
            PromptMessage(r.call_id, "tool", f"{r.name}({r.arguments}) -> {r.output}", atomic=True)
            for r in state.tool_results
        ]
        prompt = _ThreadPrompt(
            self.store.messages[run["thread_id"]].ids(),
            self.store.messages[run["thread_id"]],
            self.prompt_cache,
            exchanges,
        )
        strategy = run["truncation_strategy"]
        return truncate(
            prompt,
            counter=counter,
            budget=budget,
            fixed_tokens=fixed_prompt_tokens(counter, run["instructions"], run["tools"]),
            strategy=TruncationStrategy(strategy["type"], strategy.get("last_messages")),
        )

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
            self._write_message(run, cut, (), prompt_tokens, used, events, complete=False)
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
        self.backend.store.messages[run["thread_id"]].add(message)
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

    def _text_deltas(
        self, message_id: str, value: str, annotations: Sequence[Any], chunks: Sequence[str] | None
    ) -> Iterator[Obj]:
        pieces = list(chunks) if chunks is not None else self.settings.chunker(value)
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
        if remaining is not None and tokens > remaining:
            self._add_usage(state, prompt_tokens, remaining)
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
        for piece in self.settings.chunker(function["arguments"]):
            yield delta({"index": index, "type": "function", "function": {"arguments": piece}})

    # --- client actions on a run ---------------------------------------------------------

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: list[Obj], events: Events
    ) -> Obj:
        """Fill the pending tool calls and send the run back to `queued`."""
        self.observe(thread_id)
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
        snapshot = copy.deepcopy(run)
        if self.settings.progress == "resting":
            self._advance(run, events, until_resting=True)
        return snapshot

    def cancel(self, thread_id: str, run_id: str, events: Events) -> Obj:
        """Ask a run to stop: it shows `cancelling`, then becomes `cancelled`."""
        self.observe(thread_id)
        run = self.get_run(thread_id, run_id)
        if run["status"] not in ACTIVE_RUN_STATUSES:
            raise InvalidRequestError(f"Cannot cancel run with status '{run['status']}'.")
        if run["status"] != "cancelling":
            run["status"] = "cancelling"
            run["required_action"] = None
            events("thread.run.cancelling", run)
        snapshot = copy.deepcopy(run)
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
