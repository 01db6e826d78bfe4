"""One model turn of a run: its token budget, the prompt it sees and the responder call; what
the model is shown of the thread is `thread_prompt`, what the reply writes is `answers` (a
message, function calls) and `builtin_tools` (file_search, code_interpreter), what a live turn
streams meanwhile is `live`.

Tokens (formula in `tokens`, rules in `truncation`): each turn truncates the thread to its
budget, the model's prompt budget capped by what the run's earlier turns left of
`max_prompt_tokens`. A prompt that cannot fit (or would have to leave out the run's own tool
outputs) ends the run `incomplete` (`max_prompt_tokens`) or, without that limit, `failed`
(`invalid_prompt`). Each step's usage is its turn's prompt and reply; the run's usage is the
sum of its steps (a turn that leaves no step, such as a failure, counts nothing).

A turn never changes the run's status itself: it returns the outcome (`Ending`,
`ActionRequired` or `Continue`, in `outcomes`) and the status machine in `runs` applies it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings
from ..state.store import Collection, Store
from ..wire.objects import Obj, clone
from . import reply
from .answers import Writer, check_calls, resolve_files
from .builtin_tools import (
    BuiltinTools,
    check_builtin,
    code_call,
    file_search_call,
    thread_store_ids,
    vector_store_ids,
)
from .knowledge import NO_KNOWLEDGE, Knowledge
from .live import LiveHead, announce, closing, continued
from .models import ModelInfo
from .outcomes import Ending, Outcome, ResponderError, RunState, add_usage, failed
from .prompt_index import PromptIndex
from .responders import ContextMessage, Responder, RunContext, as_reply, reads_only
from .stream import Events
from .thread_prompt import THREAD_READER, context_messages, prompt_terms, whole_prompt
from .tokens import TokenCounter
from .truncation import TruncationReport, select

log = logging.getLogger("emulator")
BUILTIN_REPLIES = (reply.FileSearch, reply.CodeInterpreter)
SHORT_THREAD = 16
"""A thread of at most this many messages, without a prompt index yet, is read afresh on each
turn: when it fits whole (nearly always), its prompt is one loop over it, a fraction of what
building an index costs; else an index is built then."""


@dataclass(slots=True)
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
    # checked out: no other turn reads it meanwhile; None for a short thread (SHORT_THREAD)
    index: PromptIndex[ContextMessage] | None
    generation: int  # ModelTurn.generation when it was checked out
    known: int  # how many of the index's messages the thread still has
    new_ids: list[str]  # the thread's messages after those, with their stored objects
    new_messages: list[Obj]
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
    _over: threading.Event | None = None  # made when a request waits for the turn

    def over(self) -> threading.Event:
        """An event set once the turn is over, for a request that waits for it (under the
        store lock, as `end`)."""
        if self._over is None:
            self._over = threading.Event()
        return self._over

    def end(self) -> None:
        """The turn is over: wake the requests waiting for it."""
        if self._over is not None:
            self._over.set()


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
        # (thread, id(counter)) -> the thread's messages as that counter counts them
        self.prompt_indexes: dict[tuple[str, int], PromptIndex[ContextMessage]] = {}
        self.generation = 0  # moves on clear(): indexes checked out before are not taken back
        self.responder_errors: list[ResponderError] = []
        self.writer = Writer(store, clock, ids, settings)
        self.builtins = BuiltinTools(
            store, clock, ids, self.writer, knowledge, self.responder_errors
        )

    @property
    def knowledge(self) -> Knowledge:
        """The files and vector stores runs use (the built-in tools hold it)."""
        return self.builtins.knowledge

    @knowledge.setter
    def knowledge(self, knowledge: Knowledge) -> None:
        self.builtins.knowledge = knowledge

    def clear(self) -> None:
        """Forget every index (a reset or a restored snapshot may reuse thread and message ids
        for other messages), also those of turns being computed."""
        self.prompt_indexes.clear()
        self.generation += 1
        self.responder_errors.clear()

    def forget_thread(self, thread_id: str) -> None:
        """Drop the indexes of a deleted thread (those of deleted messages notice on their own)."""
        for key in [key for key in self.prompt_indexes if key[0] == thread_id]:
            del self.prompt_indexes[key]

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
        if index is not None and index.counter is not counter:
            index = None
        messages = self.store.messages[run["thread_id"]]
        ids = messages.ids()
        if index is None and len(ids) > SHORT_THREAD:
            index = PromptIndex(counter, THREAD_READER)
        known = 0 if index is None else index.matching(ids)
        new_ids = ids[known:]
        responder = self.settings.responder_for(assistant)
        if reads_only(responder):  # it said it only reads them: top-level snapshots will do
            view, assistant_copy, thread_copy = dict(run), dict(assistant), dict(thread or {})
        else:  # any other responder gets deep copies (one pass), its changes harmless
            view, assistant_copy, thread_copy = clone((run, assistant, thread or {}))
        return Turn(
            run=run,
            state=state,
            seen=state.seen(),
            view=view,
            assistant=assistant_copy,
            thread=thread_copy,
            info=info,
            counter=counter,
            responder=responder,
            index_key=key,
            index=index,
            generation=self.generation,
            known=known,
            new_ids=new_ids,
            new_messages=_stored_after(messages, known, new_ids),
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
            report, shown = self._prompt(turn)
        except Exception as error:  # a plugged-in counter is user code too
            turn.error = error
            turn.outcome = self._counting_failed(run["id"], error, record=False)
            return
        turn.report = report
        # The run's own tool calls and outputs are not thread messages: if they do not fit what
        # is left of the budget, the run cannot go on (issue 11 point 4).
        own = {result.call_id for result in seen.tool_results}
        if not report.fits or (own and not own.isdisjoint(report.dropped_ids)):
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
            messages=shown,
            tool_outputs=tuple(seen.tool_results),
            new_tool_outputs=tuple(seen.tool_results[len(seen.tool_results) - seen.new_results :]),
            truncation=report,
            turn=seen.turn,
            vector_store_ids=tuple(turn.stores),
            has_files=turn.has_files,
            file_searches=tuple(map(file_search_call, seen.searches)),
            code_interpreter_calls=tuple(map(code_call, seen.code_calls)),
        )
        turn.asked = True
        try:
            streaming = getattr(turn.responder, "stream", None) if turn.live else None
            if streaming is not None:
                deltas = streaming(context)
                for delta in closing(iter(deltas)):
                    with self.store.lock:
                        if not current(turn):
                            return  # the run moved on without this turn: stop the model
                        turn.head = announce(
                            turn.head, turn.run, delta, events, self.clock, self.ids
                        )
                    yield
                answer = as_reply(deltas.reply)
            else:
                answer = as_reply(turn.responder(context))
            if isinstance(answer, reply.ToolCalls):
                check_calls(run, answer)
            elif isinstance(answer, BUILTIN_REPLIES):
                check_builtin(run, seen, answer)
            elif isinstance(answer, reply.Text):
                answer = resolve_files(answer, seen)
            self.writer.check_chunker(answer)
        except Exception as error:  # a user's responder must never break the emulator
            log.error("responder failed run %s: %r", run["id"], error, exc_info=error)
            turn.error = error
            turn.outcome = failed("server_error", f"{type(error).__name__}: {error}")
            return
        turn.answer = answer

    def check_in(self, turn: Turn) -> None:
        """Put the turn's prompt index back in the cache (unless its thread is gone, or the
        state was cleared meanwhile)."""
        index = turn.index
        if (
            index is not None
            and turn.generation == self.generation
            and turn.index_key[0] in self.store.threads
        ):
            self.prompt_indexes.setdefault(turn.index_key, index)

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
            return self.writer.answer_text(run, state, answer, prompt_tokens, counter, events, head)
        if isinstance(answer, reply.ToolCalls):
            return self.writer.answer_tool_calls(
                run, state, answer, prompt_tokens, counter, events, head
            )
        if isinstance(answer, reply.FileSearch):
            return self.builtins.search(
                run, state, answer, turn.stores, prompt_tokens, counter, events
            )
        if isinstance(answer, reply.CodeInterpreter):
            return self.builtins.interpret(run, state, answer, prompt_tokens, counter, events)
        if isinstance(answer, reply.Failure):
            return failed(answer.code, answer.message)  # no step, so no usage
        if answer.text:
            written = counter.count(answer.text)
            add_usage(state, prompt_tokens, written)
            self.writer.write_message(
                run,
                answer.text,
                (),
                (prompt_tokens, written),
                events,
                complete=False,
                head=continued(head, "message"),
            )
        return Ending("incomplete", reason=answer.reason)

    def _counting_failed(self, run_id: str, error: Exception, *, record: bool = True) -> Ending:
        if record:
            self.responder_errors.append(ResponderError(run_id, error))
        log.error("token counting failed run %s: %r", run_id, error, exc_info=error)
        return failed("server_error", f"{type(error).__name__}: {error}")

    # --- the prompt ----------------------------------------------------------------------

    def _prompt(self, turn: Turn) -> tuple[TruncationReport, tuple[ContextMessage, ...]]:
        """The turn's truncation, and the messages it shows the responder."""
        budget, fixed, strategy, exchanges = prompt_terms(
            turn.view, turn.seen, turn.info, turn.counter
        )
        if turn.index is None:
            whole = whole_prompt(
                turn.new_messages, turn.counter, budget, fixed, strategy, exchanges
            )
            if whole is not None:
                return whole
            turn.index = PromptIndex(turn.counter, THREAD_READER)
        index = turn.index
        index.cut(turn.known)
        index.extend(turn.new_ids, turn.new_messages)
        selection = select(
            index,
            counter=index.counter,
            budget=budget,
            fixed_tokens=fixed,
            strategy=strategy,
            extra=exchanges,
        )
        return selection.report, context_messages(index, selection)


def _stored_after(messages: Collection, known: int, new_ids: list[str]) -> list[Obj]:
    """The stored messages of ``new_ids``, the thread's from position ``known`` on. Many (a
    first run): one copy of the collection, in the same order as its ids, is cheaper than a
    lookup each."""
    if len(new_ids) > 64:
        stored = messages.values()[known:]
        assert len(stored) == len(new_ids)
        return stored
    return [_stored(messages.get(i)) for i in new_ids]


def _stored(message: Obj | None) -> Obj:
    assert message is not None
    return message
