"""One model turn of a run: its token budget, the prompt it sees, the responder call, what the
reply writes (a message, or a step of tool calls) and what it costs.

Tokens (formula in `tokens`, rules in `truncation`): each turn truncates the thread to its
budget, the model's prompt budget capped by what the run's earlier turns left of
`max_prompt_tokens`. A prompt that cannot fit (or would have to leave out the run's own tool
outputs) ends the run `incomplete` (`max_prompt_tokens`) or, without that limit, `failed`
(`invalid_prompt`). A reply longer than what is left of
`max_completion_tokens` is cut to the tokens that fit, in an `incomplete` message (`max_tokens`),
and ends the run `incomplete` (`max_completion_tokens`); tool calls that do not fit are not
made. Each step's usage is its turn's prompt and reply; the run's usage is the sum of its
steps (a turn that leaves no step, such as a failure, counts nothing).

Built-in tools: a `file_search` or `code_interpreter` reply writes a completed `tool_calls`
step (the search runs over the run's vector stores through `Knowledge`; code is never executed,
its outputs are the reply's) and the turn's outcome is `Continue`: the run stays `in_progress`
and its next turn asks the responder again, with the call in the `RunContext`.

A turn never changes the run's status itself: it returns the outcome (`Ending`,
`ActionRequired` or `Continue`) and the status machine in `runs` applies it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..retrieval.search import SearchResult, file_search_result
from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings
from ..state.store import Store, clone
from ..wire import events as shapes
from ..wire import objects
from ..wire.objects import Obj
from . import reply
from .knowledge import NO_KNOWLEDGE, Knowledge
from .models import ModelInfo
from .responders import (
    CodeInterpreterCall,
    ContextMessage,
    FileSearchCall,
    OutputFileRef,
    Responder,
    RunContext,
    ToolResult,
    as_reply,
)
from .stream import Events
from .tokens import TokenCounter, fixed_prompt_tokens
from .truncation import PromptIndex, PromptMessage, TruncationReport, TruncationStrategy, truncate
from .upstream import CallDelta, TextDelta

log = logging.getLogger("emulator")
IMAGE_TEXT = "[image]"
MAX_BUILTIN_STEPS = 20  # file_search / code_interpreter steps one run may make
RANKER = "default_2024_08_21"  # what steps report, whatever the tool asked for [DN]


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
    # built-in tool calls of the run, as plain data (snapshots keep them as they are)
    searches: list[Obj] = field(default_factory=list)
    code_calls: list[Obj] = field(default_factory=list)


@dataclass(frozen=True)
class ResponderError:
    """An exception a responder raised (or a reply it could not give); its run failed."""

    run_id: str
    error: BaseException


@dataclass(frozen=True)
class Ending:
    """A turn ends its run: terminal `status`, with an `incomplete_details` reason or an error."""

    status: str
    reason: str | None = None
    error: Obj | None = None


def failed(code: str, message: str) -> Ending:
    return Ending("failed", error={"code": code, "message": message})


@dataclass(frozen=True)
class ActionRequired:
    """A turn made function calls: the run waits for their outputs."""

    calls: list[Obj]


@dataclass(frozen=True)
class Continue:
    """A turn used a built-in tool: the run stays `in_progress` for its next turn."""


Outcome = Ending | ActionRequired | Continue


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


@dataclass
class Turn:
    """One model turn: read under the store lock (`ModelTurn.start`), computed outside it
    (`ModelTurn.compute`, on copies), then written under the lock (`ModelTurn.commit`) when its
    run is still where the turn found it."""

    run: Obj  # the stored run: the commit checks it is still the one, still in_progress
    state: RunState
    seen: RunState  # copies of what the computation reads
    view: Obj
    assistant: Obj
    thread: Obj
    info: ModelInfo
    counter: TokenCounter
    responder: Responder
    index_key: tuple[str, int]
    index: PromptIndex
    message_ids: list[str]
    fresh: dict[str, PromptMessage]
    stores: list[str]
    has_files: bool
    live: bool
    # what the computation found
    report: TruncationReport | None = None
    outcome: Outcome | None = None  # an end without a reply (counting failed, no room, error)
    answer: reply.Reply | None = None
    error: Exception | None = None
    asked: bool = False  # the responder was asked
    head: LiveHead | None = None
    done: threading.Event = field(default_factory=threading.Event)  # set once it is over


def vector_store_ids(assistant: Obj, thread: Obj | None) -> list[str]:
    """The stores file_search reads in a run: the assistant's, then the thread's [CB-FS]."""
    found: list[str] = []
    for owner in (assistant, thread or {}):
        resources = owner.get("tool_resources") or {}
        for store_id in (resources.get("file_search") or {}).get("vector_store_ids") or []:
            if store_id not in found:
                found.append(store_id)
    return found


def thread_store_ids(thread: Obj | None) -> list[str]:
    resources = (thread or {}).get("tool_resources") or {}
    return list((resources.get("file_search") or {}).get("vector_store_ids") or [])


def default_max_num_results(model: str) -> int:
    """file_search's `max_num_results` when the tool sets none: 5 for gpt-3.5-turbo, else 20."""
    return 5 if model.startswith("gpt-3.5-turbo") else 20


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


def complete_step(step: Obj, now: int, usage: tuple[int, int], events: Events) -> None:
    """A step is done; its usage is its turn's prompt and reply tokens."""
    step["status"] = "completed"
    step["completed_at"] = now
    step["usage"] = objects.usage(*usage)
    events("thread.run.step.completed", step)


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


class ModelTurn:
    """Takes model turns; keeps the per-thread prompt indexes and responder errors."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        ids: IdGenerator,
        settings: Settings,
        knowledge: Knowledge = NO_KNOWLEDGE,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.knowledge = knowledge
        self.prompt_indexes: dict[tuple[str, int], PromptIndex] = {}  # (thread, id(counter))
        self.context_messages: dict[str, ContextMessage] = {}  # kept ones, by message id
        self.responder_errors: list[ResponderError] = []

    def clear(self) -> None:
        self.prompt_indexes.clear()
        self.context_messages.clear()
        self.responder_errors.clear()

    def forget_thread(self, thread_id: str) -> None:
        """Drop what is cached about a deleted thread's messages."""
        for key in [key for key in self.prompt_indexes if key[0] == thread_id]:
            del self.prompt_indexes[key]
        for message_id in self.store.messages[thread_id].ids():
            self.context_messages.pop(message_id, None)

    def forget_message(self, message_id: str) -> None:
        """Drop what is cached about a deleted message (indexes notice on their own)."""
        self.context_messages.pop(message_id, None)

    # --- the turn ------------------------------------------------------------------------

    def start(self, run: Obj, state: RunState, *, live: bool = False) -> Turn | Outcome:
        """Read what the turn needs, under the store lock: copies, and the thread's prompt index
        checked out of the cache (no other turn counts with it meanwhile). An `Outcome` when
        the turn ends before it starts (no assistant, no counter)."""
        assistant = self.store.assistants.get(run["assistant_id"])
        if assistant is None:
            return failed("server_error", f"No assistant found with id '{run['assistant_id']}'.")
        info = self.settings.models.get(run["model"])
        try:
            counter = self.settings.counter_for(info)
        except Exception as error:  # a plugged-in counter is user code too
            return self._counting_failed(run["id"], error)
        thread = self.store.threads.get(run["thread_id"])
        stores = vector_store_ids(assistant, thread)
        searching = any(tool["type"] == "file_search" for tool in run["tools"])
        if searching and state.turn == 0 and self.settings.progress == "resting":
            self.knowledge.finish_ingestion(thread_store_ids(thread))  # a run waits for these
        key = (run["thread_id"], id(counter))
        index = self.prompt_indexes.pop(key, None)
        if index is None or index.counter is not counter:
            index = PromptIndex(counter)
        messages = self.store.messages[run["thread_id"]]
        ids = list(messages.ids())
        fresh = {i: prompt_message(_stored(messages.get(i))) for i in ids[index.matching(ids) :]}
        return Turn(
            run=run,
            state=state,
            seen=replace(
                state,
                tool_results=list(state.tool_results),
                searches=list(state.searches),
                code_calls=list(state.code_calls),
                reports=[],
            ),
            view=clone(run),
            assistant=clone(assistant),
            thread=clone(thread or {}),
            info=info,
            counter=counter,
            responder=self.settings.responder_for(assistant),
            index_key=key,
            index=index,
            message_ids=ids,
            fresh=fresh,
            stores=stores,
            has_files=searching and self.knowledge.has_files(stores),
            live=live,
        )

    def compute(
        self, turn: Turn, events: Events, current: Callable[[Turn], bool]
    ) -> Iterator[None]:
        """The turn's slow parts, outside the store lock: counting, truncation, the responder.

        A live turn (a streamed run whose responder has `stream(context)`) writes each delta to
        `events` as the model produces it, under the lock and while `current(turn)` holds, and
        yields so the stream can send it; when the run changed meanwhile (a cancel, say) it
        closes the responder's stream and stops. Other turns never yield.
        """
        run, seen = turn.view, turn.seen
        try:
            turn.index.sync(turn.message_ids, turn.fresh.__getitem__)
            report = self.truncation_for(run, seen, turn.info, turn.counter, index=turn.index)
        except Exception as error:  # a plugged-in counter is user code too
            turn.error = error
            turn.outcome = self._counting_failed(run["id"], error, record=False)
            return
        turn.report = report
        # The run's own tool calls and outputs are not thread messages: if they do not fit what
        # is left of the budget, the run cannot go on (issue 11 point 4).
        own = {result.call_id for result in seen.tool_results}
        if not report.fits or not own.isdisjoint(report.dropped_ids):
            if run["max_prompt_tokens"] is not None:
                turn.outcome = Ending("incomplete", reason="max_prompt_tokens")
            else:
                needs = "The prompt needs" if not report.fits else "The run's tool outputs need"
                turn.outcome = failed(
                    "invalid_prompt",
                    f"{needs} more tokens than model '{run['model']}' accepts "
                    f"({report.prompt_tokens} of {report.budget}).",
                )
            return
        context = RunContext(
            assistant=turn.assistant,
            thread=turn.thread,
            run=run,
            messages=self._context_messages(report),
            tool_outputs=tuple(seen.tool_results),
            new_tool_outputs=tuple(seen.tool_results[len(seen.tool_results) - seen.new_results :]),
            truncation=report,
            turn=seen.turn,
            vector_store_ids=tuple(turn.stores),
            has_files=turn.has_files,
            file_searches=tuple(_file_search_call(s) for s in seen.searches),
            code_interpreter_calls=tuple(_code_call(c) for c in seen.code_calls),
        )
        turn.asked = True
        try:
            streaming = getattr(turn.responder, "stream", None) if turn.live else None
            if streaming is not None:
                deltas = streaming(context)
                for delta in _closing(iter(deltas)):
                    with self.store.lock:
                        if not current(turn):
                            return  # the run moved on without this turn: stop the model
                        self._announce(turn, delta, events)
                    yield
                answer = as_reply(deltas.reply)
            else:
                answer = as_reply(turn.responder(context))
            if isinstance(answer, reply.ToolCalls):
                _check_calls(run, answer)
            elif isinstance(answer, reply.FileSearch | reply.CodeInterpreter):
                _check_builtin(run, seen, answer)
            elif isinstance(answer, reply.Text):
                answer = _resolve_files(answer, seen)
            self._check_chunker(answer)
        except Exception as error:  # a user's responder must never break the emulator
            log.error("responder failed run %s: %r", run["id"], error, exc_info=error)
            turn.error = error
            turn.outcome = failed("server_error", f"{type(error).__name__}: {error}")
            return
        turn.answer = answer

    def check_in(self, turn: Turn) -> None:
        """Put the turn's prompt index back in the cache (unless its thread is gone)."""
        if turn.index_key[0] in self.store.threads:
            self.prompt_indexes.setdefault(turn.index_key, turn.index)

    def commit(self, turn: Turn, events: Events) -> Outcome:
        """Write a computed turn, under the store lock: its reply, usage and report."""
        run, state = turn.run, turn.state
        if turn.report is not None:
            state.reports.append(turn.report)
        if turn.asked:
            state.turn += 1
        if turn.error is not None:
            self.responder_errors.append(ResponderError(run["id"], turn.error))
        if turn.outcome is not None:
            return turn.outcome
        answer, counter, head = turn.answer, turn.counter, turn.head
        assert answer is not None and turn.report is not None
        prompt_tokens = turn.report.prompt_tokens
        if isinstance(answer, reply.Text):
            return self._answer_text(run, state, answer, prompt_tokens, counter, events, head)
        if isinstance(answer, reply.ToolCalls):
            return self._answer_tool_calls(run, state, answer, prompt_tokens, counter, events, head)
        if isinstance(answer, reply.FileSearch):
            return self._search(run, state, answer, turn.stores, prompt_tokens, counter, events)
        if isinstance(answer, reply.CodeInterpreter):
            return self._interpret(run, state, answer, prompt_tokens, counter, events)
        if isinstance(answer, reply.Failure):
            return failed(answer.code, answer.message)  # no step, so no usage
        if answer.text:
            written = counter.count(answer.text)
            _add_usage(state, prompt_tokens, written)
            self._write_message(
                run,
                answer.text,
                (),
                (prompt_tokens, written),
                events,
                complete=False,
                head=_head(head, "message"),
            )
        return Ending("incomplete", reason=answer.reason)

    def _counting_failed(self, run_id: str, error: Exception, *, record: bool = True) -> Ending:
        if record:
            self.responder_errors.append(ResponderError(run_id, error))
        log.error("token counting failed run %s: %r", run_id, error, exc_info=error)
        return failed("server_error", f"{type(error).__name__}: {error}")

    # --- deltas as the model produces them -----------------------------------------------

    def _announce(self, turn: Turn, delta: object, events: Events) -> None:
        """Send one delta of a live turn; its step (and message) are announced with the first.

        The objects are stored when the turn is written, with the ids announced here (drawn in
        the order a turn that is not streamed draws them); a turn dropped meanwhile stores none.
        """
        head = turn.head
        if head is None:
            now, run = self.clock.now(), turn.run
            if isinstance(delta, TextDelta):
                message_id = self.ids.new("msg")
                details = shapes.message_creation(message_id)
            else:
                message_id, details = None, shapes.tool_calls_details()
            step = objects.step(self.ids.new("step"), now, run=run, step_details=details)
            head = turn.head = LiveHead(step["id"], now, message_id)
            events("thread.run.step.created", step)
            events("thread.run.step.in_progress", step)
            if message_id is not None:
                message = _assistant_message(message_id, now, run)
                events("thread.message.created", message)
                events("thread.message.in_progress", message)
        if isinstance(delta, TextDelta) and head.message_id is not None and delta.text:
            text: Obj = {"value": delta.text}
            if not head.texts or delta.annotations:
                first = head.annotations
                text["annotations"] = [
                    shapes.annotation_delta(first + n, note)
                    for n, note in enumerate(delta.annotations)
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
                call_id = delta.id or self.ids.new("call")
                call = head.calls[delta.index] = shapes.function_call(call_id, delta.name or "", "")
                deltas = list(shapes.call_deltas(head.step_id, position, call, pieces))
            else:
                position = list(head.calls).index(delta.index)
                deltas = list(shapes.call_deltas(head.step_id, position, call, pieces))[1:]
            for data in deltas:
                events("thread.run.step.delta", data)

    # --- the prompt ----------------------------------------------------------------------

    def truncation_for(
        self,
        run: Obj,
        state: RunState,
        info: ModelInfo,
        counter: TokenCounter,
        *,
        index: PromptIndex | None = None,
    ) -> TruncationReport:
        """Which messages the model sees on this turn, within the run's token budget.

        The budget is the model's (ModelInfo.prompt_budget) and, with ``max_prompt_tokens``,
        what the run's earlier turns left of it. The run's tool exchanges follow the thread.
        `index`: the thread's prompt index, already in step (default: synced from the store).
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
            index if index is not None else self._prompt_index(run["thread_id"], counter),
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

    # --- the reply -----------------------------------------------------------------------

    def _answer_text(
        self,
        run: Obj,
        state: RunState,
        answer: reply.Text,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
        head: LiveHead | None = None,
    ) -> Ending:
        head = _head(head, "message")
        tokens = counter.count(answer.value)
        remaining = _remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            cut = counter.truncate(answer.value, remaining)
            used = remaining  # generated, though the text may drop a partial character
            _add_usage(state, prompt_tokens, used)
            pieces = _prefix_chunks(answer.chunks or self._split(answer.value), cut)
            self._write_message(
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
        _add_usage(state, prompt_tokens, tokens)
        self._write_message(
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

    def _write_message(
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
        message = _assistant_message(message_id, now, run)
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
            pieces = list(chunks) if chunks is not None else self._split_marked(value, annotations)
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

    def _answer_tool_calls(
        self,
        run: Obj,
        state: RunState,
        answer: reply.ToolCalls,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
        head: LiveHead | None = None,
    ) -> Outcome:
        head = _head(head, "tool_calls")
        tokens = sum(counter.count(c.name) + counter.count(c.arguments) for c in answer.calls)
        remaining = _remaining_completion(run, state)
        if remaining is not None and tokens > remaining:  # no complete call: no step, no usage
            return Ending("incomplete", reason="max_completion_tokens")
        _add_usage(state, prompt_tokens, tokens)
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
                pieces = self._split(call["function"]["arguments"])
                for delta in shapes.call_deltas(step["id"], index, call, pieces):
                    events("thread.run.step.delta", delta)
        step["step_details"]["tool_calls"] = calls
        state.pending_step_id = step["id"]
        state.pending_usage = (prompt_tokens, tokens)
        return ActionRequired(calls)

    # --- built-in tools ------------------------------------------------------------------

    def _search(
        self,
        run: Obj,
        state: RunState,
        answer: reply.FileSearch,
        stores: Sequence[str],
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
    ) -> Outcome:
        """One `file_search` call over the run's stores, in a completed `tool_calls` step."""
        tokens = sum(counter.count(query) for query in answer.queries)
        remaining = _remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            return Ending("incomplete", reason="max_completion_tokens")
        options = next(t for t in run["tools"] if t["type"] == "file_search").get("file_search")
        options = options or {}
        threshold = float((options.get("ranking_options") or {}).get("score_threshold") or 0.0)
        found = self.knowledge.search(
            stores,
            answer.queries,
            max_num_results=options.get("max_num_results") or default_max_num_results(run["model"]),
            score_threshold=threshold,
        )
        _add_usage(state, prompt_tokens, tokens)
        ranking = {"ranker": RANKER, "score_threshold": threshold}
        results = [file_search_result(result, include_content=True) for result in found]
        call = shapes.file_search_call(answer.id or self.ids.new("call"), ranking, results)
        step = self._tool_step(run, events)
        if events.active:
            events("thread.run.step.delta", shapes.file_search_delta(step["id"], 0, call))
        self._finish_tool_step(step, call, (prompt_tokens, tokens), events)
        state.searches.append(
            {
                "call_id": call["id"],
                "queries": list(answer.queries),
                "results": [
                    {
                        "file_id": r.file_id,
                        "filename": r.filename,
                        "score": r.score,
                        "text": r.text,
                        "chunk_index": r.chunk_index,
                        "attributes": dict(r.attributes),
                    }
                    for r in found
                ],
            }
        )
        return Continue()

    def _interpret(
        self,
        run: Obj,
        state: RunState,
        answer: reply.CodeInterpreter,
        prompt_tokens: int,
        counter: TokenCounter,
        events: Events,
    ) -> Outcome:
        """One `code_interpreter` call with the reply's outputs; its files are stored first."""
        tokens = counter.count(answer.input)
        remaining = _remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            return Ending("incomplete", reason="max_completion_tokens")
        try:
            images = [self._output_file(f) for f in answer.images]
            files = [self._output_file(f) for f in answer.files]
        except Exception as error:  # no file storage, or a plugged-in store refused it
            self.responder_errors.append(ResponderError(run["id"], error))
            return failed("server_error", f"{type(error).__name__}: {error}")
        _add_usage(state, prompt_tokens, tokens)
        outputs: list[Obj] = [{"type": "logs", "logs": answer.logs}] if answer.logs else []
        outputs += [{"type": "image", "image": {"file_id": file_id}} for file_id, _ in images]
        call = shapes.code_interpreter_call(
            answer.id or self.ids.new("call"), answer.input, outputs
        )
        step = self._tool_step(run, events)
        if events.active:
            pieces = self._split(answer.input) if answer.input else []
            for delta in shapes.code_interpreter_deltas(step["id"], 0, call, pieces):
                events("thread.run.step.delta", delta)
        self._finish_tool_step(step, call, (prompt_tokens, tokens), events)
        state.code_calls.append(
            {
                "call_id": call["id"],
                "input": answer.input,
                "logs": answer.logs,
                "images": [list(pair) for pair in images],
                "files": [list(pair) for pair in files],
            }
        )
        return Continue()

    def _output_file(self, output: reply.OutputFile) -> tuple[str, str]:
        return self.knowledge.add_output_file(output.filename, output.data), output.filename

    def _tool_step(self, run: Obj, events: Events) -> Obj:
        step = objects.step(
            self.ids.new("step"),
            self.clock.now(),
            run=run,
            step_details=shapes.tool_calls_details(),
        )
        self.store.steps[run["id"]].add(step)
        events("thread.run.step.created", step)
        events("thread.run.step.in_progress", step)
        return step

    def _finish_tool_step(
        self, step: Obj, call: Obj, usage: tuple[int, int], events: Events
    ) -> None:
        """The step holds its call and is done; the event shows results as the request asked."""
        step["step_details"]["tool_calls"] = [call]
        step["status"] = "completed"
        step["completed_at"] = self.clock.now()
        step["usage"] = objects.usage(*usage)
        view = shapes.step_view(step, include_content=events.include_content)
        events("thread.run.step.completed", view)

    def _split_marked(self, value: str, annotations: Sequence[Any]) -> list[str]:
        """Stream pieces that keep each annotated span (a citation marker) whole."""
        if not annotations:
            return self._split(value)
        spans = sorted((a["start_index"], a["end_index"]) for a in annotations)
        pieces: list[str] = []
        at = 0
        for start, end in spans:
            if start < at:  # overlapping spans: split the text as a whole
                return self._split(value)
            if start > at:
                pieces += self._split(value[at:start])
            if end > start:
                pieces.append(value[start:end])
            at = end
        if at < len(value):
            pieces += self._split(value[at:])
        return pieces

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
        elif isinstance(answer, reply.CodeInterpreter) and answer.input:
            self._split(answer.input)


def _check_calls(run: Obj, answer: reply.ToolCalls) -> None:
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


def _check_builtin(
    run: Obj, state: RunState, answer: reply.FileSearch | reply.CodeInterpreter
) -> None:
    """A built-in call needs its tool on the run, and a run's calls have a bound."""
    kind = "file_search" if isinstance(answer, reply.FileSearch) else "code_interpreter"
    if not any(tool["type"] == kind for tool in run["tools"]):
        raise ValueError(f"the reply makes a {kind} call, but the run has no {kind} tool")
    if run["tool_choice"] == "none":
        raise ValueError(f"the reply makes a {kind} call but tool_choice is 'none'")
    if len(state.searches) + len(state.code_calls) >= MAX_BUILTIN_STEPS:
        raise ValueError(
            f"the responder made {MAX_BUILTIN_STEPS} file_search/code_interpreter calls in run "
            f"{run['id']} without answering"
        )


def _resolve_files(answer: reply.Text, state: RunState) -> reply.Text:
    """A text's `image_files` and annotation file ids, with names of this run's output files
    replaced by their ids (the newest file of a name wins); annotations in the real key order."""
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


def _file_search_call(data: Obj) -> FileSearchCall:
    results = tuple(
        SearchResult(
            file_id=r["file_id"],
            filename=r["filename"],
            score=r["score"],
            text=r["text"],
            chunk_index=r["chunk_index"],
            attributes=dict(r["attributes"]),
        )
        for r in data["results"]
    )
    return FileSearchCall(data["call_id"], tuple(data["queries"]), results)


def _code_call(data: Obj) -> CodeInterpreterCall:
    return CodeInterpreterCall(
        data["call_id"],
        data["input"],
        data["logs"],
        tuple(OutputFileRef(file_id, name) for file_id, name in data["images"]),
        tuple(OutputFileRef(file_id, name) for file_id, name in data["files"]),
    )


def _add_usage(state: RunState, prompt: int, completion: int) -> None:
    state.prompt_tokens += prompt
    state.completion_tokens += completion


def _remaining_completion(run: Obj, state: RunState) -> int | None:
    limit = run["max_completion_tokens"]
    return None if limit is None else max(limit - state.completion_tokens, 0)


def _head(head: LiveHead | None, kind: str) -> LiveHead | None:
    """The live head a reply of this kind continues (a text's message, calls' step), if any."""
    if head is None or (head.message_id is not None) != (kind == "message"):
        return None
    return head


def _assistant_message(message_id: str, now: int, run: Obj) -> Obj:
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


def _stored(message: Obj | None) -> Obj:
    assert message is not None
    return message


def _closing(deltas: Iterator[object]) -> Iterator[object]:
    """The deltas; closing this closes the responder's stream too (its upstream response)."""
    try:
        yield from deltas
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()
