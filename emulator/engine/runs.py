"""The run status machine: creation, statuses and their timestamps, expiry, holds, the client's
actions on a run (tool outputs, cancel) and how a run ends.

Progress: in the default `"resting"` mode a run is driven to its next resting status
(`requires_action` or terminal) during the request that moved it, while the response still
shows the status the request produced (`queued` for a new run, `cancelling` for a cancel), so
`create_and_poll` finds it finished on its first GET. In `"step"` mode each observation of the
thread (a GET) advances an active run by one status. A hold stops a run at `queued` or
`in_progress` until it is released. A streamed request (either mode) drives its run itself,
one transition per read of its stream, until the run rests (`stream`).

The model turn itself (prompt, responder, reply, usage) is `turn.ModelTurn`; the engine is built
from the store, the clock, the id generator and the settings, and never sees HTTP.

Locking: callers hold the store-wide lock (`state.lock.StoreLock`) around every operation, so
each request sees and leaves a consistent state. A model turn is computed, then committed: its
inputs are copied under the lock (`ModelTurn.start`), its slow parts (token counting and
truncation, the responder, a forwarded upstream's answer) run with the lock released
(`StoreLock.released`), and its writes (steps, messages, usage, the run's next status) happen
under the lock again, only if the run is still the stored one, still `in_progress`, not expired,
and still this turn's (`turning`). Otherwise the turn is dropped and the run follows what
happened meanwhile: a cancel during a turn ends the run `cancelled` and the late reply leaves no
trace. So a slow run on one thread never blocks requests about other objects. A request that
finds a run's turn already being taken elsewhere leaves it `in_progress` (a stream waits for it).
The active-run rule stays race-free: a run's creation checks and claims its thread without
letting go of the lock.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator

from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings
from ..state.store import ACTIVE_RUN_STATUSES, Store
from ..wire import events as shapes
from ..wire import objects
from ..wire.errors import InvalidRequestError, not_found
from ..wire.objects import Obj
from .builtin_tools import vector_store_ids
from .knowledge import NO_KNOWLEDGE, Knowledge
from .outcomes import ActionRequired, Ending, Outcome, ResponderError, RunState, complete_step
from .responders import ToolResult
from .stream import RESTING, Events, FrameBatch, Streams
from .truncation import TruncationReport
from .turn import ModelTurn, Turn

log = logging.getLogger("emulator")
EXPIRABLE = frozenset({"queued", "in_progress", "requires_action"})
STEP_ENDINGS = frozenset({"cancelled", "failed", "expired"})  # a run's open steps end so too


def check_tool_choice(choice: object, tools: list[Obj]) -> None:
    """A named `tool_choice` must name one of the run's tools: the real service refused
    anything else at creation with a 400 (issue 11; the wording follows its validator's)."""
    if not isinstance(choice, dict):
        return
    kind = choice["type"]
    if kind == "function":
        name = choice["function"]["name"]
        names = [t["function"]["name"] for t in tools if t["type"] == "function"]
        if name not in names:
            raise InvalidRequestError(
                f"Invalid value for 'tool_choice': function '{name}' is not among the run's "
                f"tools ({', '.join(repr(n) for n in names) or 'none'}).",
                param="tool_choice",
                code="invalid_value",
            )
    elif all(t["type"] != kind for t in tools):
        raise InvalidRequestError(
            f"Invalid value for 'tool_choice': the run has no '{kind}' tool.",
            param="tool_choice",
            code="invalid_value",
        )


class RunEngine:
    """Creates runs and moves them through their statuses. Callers hold the store lock."""

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
        self.states: dict[str, RunState] = {}
        self.turning: dict[str, Turn] = {}  # runs whose model turn is being computed, by id
        self.turns = ModelTurn(store, clock, ids, settings, knowledge)
        self.streams = Streams(store.lock)
        subscribe = getattr(clock, "subscribe", None)
        if callable(subscribe):
            subscribe(self._clock_moved)

    @property
    def knowledge(self) -> Knowledge:
        """The vector stores and files runs use (the Backend's retrieval library)."""
        return self.turns.knowledge

    @knowledge.setter
    def knowledge(self, knowledge: Knowledge) -> None:
        self.turns.knowledge = knowledge

    def clear(self) -> None:
        self.states.clear()
        self.turning.clear()
        self.turns.clear()
        self.streams.clear()

    # --- what other resources need -------------------------------------------------------

    def add_message(self, thread_id: str, data: Obj, *, run_id: str | None = None) -> Obj:
        """Store a message from a (validated, dumped) CreateMessage body."""
        message = objects.message(
            self.ids.new("msg"),
            self.clock.now(),
            thread_id=thread_id,
            role=data["role"],
            content=objects.content_parts(data["content"]),
            run_id=run_id,
            attachments=data.get("attachments"),
            metadata=data.get("metadata"),
        )
        self.store.messages[thread_id].add(message)
        return message

    def ensure_can_add_message(self, thread_id: str) -> None:
        """A thread with an active run takes no new messages."""
        self.observe(thread_id, poll=False)
        self._ensure_unlocked(thread_id, adding_messages=True)

    def forget_thread(self, thread_id: str) -> None:
        """Drop the bookkeeping of a thread that is being deleted, and of its runs."""
        self.turns.forget_thread(thread_id)
        for run in self.store.runs[thread_id]:
            self.states.pop(run["id"], None)

    @property
    def responder_errors(self) -> list[ResponderError]:
        return self.turns.responder_errors

    def reports(self, run_id: str) -> list[TruncationReport]:
        """The truncation report of each model turn of a run (KeyError for an unknown run)."""
        state = self.states.get(run_id)
        if state is None:
            raise KeyError(f"no run {run_id!r}")
        return list(state.reports)

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
        tools = body["tools"] if body.get("tools") is not None else assistant["tools"]
        check_tool_choice(body.get("tool_choice"), tools)
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
        tools = body.get("tools")
        if any(
            t["type"] == "file_search" for t in (assistant["tools"] if tools is None else tools)
        ):
            stores = vector_store_ids(assistant, self.store.threads.get(thread_id))
            expired = self.knowledge.expired_store(stores)
            if expired is not None:  # (choice) the text wrappers match [files §9.4]
                raise InvalidRequestError(f"Vector store {expired} is expired.")
            self.knowledge.touch(stores)
        for extra in additional:
            self.add_message(thread_id, extra)
        run = objects.run(
            self.ids.new("run"),
            self.clock.now(),
            thread_id=thread_id,
            assistant=assistant,
            body=body,
        )
        self.store.add_run(run)
        self.store.active_run[thread_id] = run["id"]
        self.states[run["id"]] = RunState()
        events("thread.run.created", run)
        events("thread.run.queued", run)
        return self._settle(run, events)

    def _settle(self, run: Obj, events: Events) -> Obj:
        """The run as the request that moved it sees it; then, resting mode moves it on.

        The snapshot is shallow: moving a run replaces its top-level values and never changes
        a nested one in place, and the request renders the snapshot before anything else can
        touch the run (it holds the store lock)."""
        snapshot = dict(run)
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
        events = self.streams.sink(run_id, Events())
        if self._expire_if_due(run, events):
            return
        resting = self.settings.progress == "resting"
        if poll or resting:
            self._advance(run, events, until_resting=resting)

    def stream(self, thread_id: str, run_id: str, events: Events) -> Iterator[FrameBatch]:
        """The SSE frames of a streamed request, produced as the client reads them.

        First what the request itself produced, then one run transition per read until the
        run rests (`requires_action` or terminal). Transitions other requests cause meanwhile
        (a cancel, a GET) join this stream, so a client that cancels while handling an event
        reads `thread.run.cancelling` and `thread.run.cancelled` next. A model turn is one
        transition; when the responder can stream (`stream(context)`, as `forward` can), its
        text and tool-call argument deltas are sent as the model produces them, else the
        message and its deltas are written at once. The stream also ends (with `done`) when it
        cannot move on by itself: its run is held, or its thread was deleted.
        """
        return self.streams.follow(
            run_id, events, lambda: self._stream_step(thread_id, run_id, events)
        )

    def _stream_step(
        self, thread_id: str, run_id: str, events: Events
    ) -> Generator[None, None, None]:
        """One transition of a streamed run; yields (without the lock) when it has live deltas
        to send."""
        with self.store.lock:
            runs = self.store.runs.get(thread_id)
            run = runs.get(run_id) if runs is not None else None
            if events.rested or run is None or run["status"] in RESTING:
                return
            if self._expire_if_due(run, events) or self._held(run):
                return
            other = self.turning.get(run_id)
            if run["status"] != "in_progress" or other is not None:
                turn = None
                if other is None:
                    self._transition(run, events)
            else:
                turn = self._start_turn(run, events, live=True)
            over = other.over() if other is not None else None
        if over is not None:
            over.wait()  # another request takes this turn; its writes join this stream
            return
        if turn is None:
            return
        try:
            yield from self.turns.compute(turn, events, self._current)
        finally:
            with self.store.lock:
                self._end_turn(turn, events)

    def _clock_moved(self, latest: int) -> None:
        """The clock showed `latest`: every run whose deadline it passed expires now, so that
        moving the clock back afterwards cannot revive it."""
        with self.store.lock:
            for thread_id, run_id in list(self.store.active_run.items()):
                run = self.store.runs[thread_id].get(run_id)
                if run is not None and run["status"] in EXPIRABLE and latest > run["expires_at"]:
                    self._finish(run, Ending("expired"), self.streams.sink(run_id, Events()))

    def _expire_if_due(self, run: Obj, events: Events) -> bool:
        if run["status"] in EXPIRABLE and self.clock.now() > run["expires_at"]:
            self._finish(run, Ending("expired"), events)
            return True
        return False

    def _held(self, run: Obj) -> bool:
        holds = self.settings.holds
        if not holds:
            return False
        hold = holds.get(run["id"], holds.get(None))
        return hold is not None and hold == run["status"]

    def _advance(self, run: Obj, events: Events, *, until_resting: bool) -> None:
        while run["status"] not in RESTING and not self._held(run):
            if not self._transition(run, events) or not until_resting:
                return

    def _transition(self, run: Obj, events: Events) -> bool:
        """Move the run one status on; False when it cannot (its turn is being taken elsewhere,
        or the turn found it gone)."""
        status = run["status"]
        if status == "queued":
            run["status"] = "in_progress"
            run["started_at"] = self.clock.now()
            events("thread.run.in_progress", run)
        elif status == "in_progress":
            return self._take_turn(run, events)
        elif status == "cancelling":
            self._finish(run, Ending("cancelled"), events)
        return True

    # --- model turns: computed without the lock, committed with it -----------------------

    def _take_turn(self, run: Obj, events: Events) -> bool:
        if run["id"] in self.turning or run["id"] not in self.states:
            return False
        turn = self._start_turn(run, events, live=False)
        if turn is None:
            return True
        try:
            with self.store.lock.released():
                for _ in self.turns.compute(turn, events, self._current):
                    pass  # only live turns yield
        finally:
            self._end_turn(turn, events)
        return self._current_run(turn)

    def _start_turn(self, run: Obj, events: Events, *, live: bool) -> Turn | None:
        """Under the lock: the turn's inputs, or None when it ended at once (outcome applied)."""
        started = self.turns.start(run, self.states[run["id"]], live=live)
        if not isinstance(started, Turn):
            self._apply(run, started, events)
            return None
        self.turning[run["id"]] = started
        return started

    def _end_turn(self, turn: Turn, events: Events) -> None:
        """Under the lock again: write the turn if its run is as the turn left it, else drop it
        (the run was cancelled, expired, reset, reloaded or its thread deleted meanwhile)."""
        current = self._current(turn)
        if self.turning.get(turn.run["id"]) is turn:
            del self.turning[turn.run["id"]]
        turn.end()
        self.turns.check_in(turn)
        if not current or (turn.answer is None and turn.outcome is None):
            log.info("run %s moved on during its model turn: the turn is dropped", turn.run["id"])
            return
        if self._expire_if_due(turn.run, events):
            return
        self._apply(turn.run, self.turns.commit(turn, events), events)

    def _current(self, turn: Turn) -> bool:
        """Whether the run is still where its turn found it: stored, `in_progress`, this turn's."""
        run_id = turn.run["id"]
        return (
            self.turning.get(run_id) is turn
            and self.states.get(run_id) is turn.state
            and self._current_run(turn)
            and turn.run["status"] == "in_progress"
        )

    def _current_run(self, turn: Turn) -> bool:
        runs = self.store.runs.get(turn.run["thread_id"])
        return runs is not None and runs.get(turn.run["id"]) is turn.run

    def _apply(self, run: Obj, outcome: Outcome, events: Events) -> None:
        if isinstance(outcome, ActionRequired):
            run["status"] = "requires_action"
            run["required_action"] = shapes.required_action(outcome.calls)
            events("thread.run.requires_action", run)
        elif isinstance(outcome, Ending):
            self._finish(run, outcome, events)
        # a Continue leaves the run in_progress: its next transition takes the next turn

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
        complete_step(step, self.clock.now(), state.pending_usage, events)
        run["status"] = "queued"
        run["required_action"] = None
        events("thread.run.queued", run)
        return self._settle(run, events)

    def cancel(self, thread_id: str, run_id: str, events: Events) -> Obj:
        """Ask a run to stop: it shows `cancelling`, then becomes `cancelled`."""
        self.observe(thread_id, poll=False)
        run = self.get_run(thread_id, run_id)
        if run["status"] not in ACTIVE_RUN_STATUSES:
            raise InvalidRequestError(f"Cannot cancel run with status '{run['status']}'.")
        events = self.streams.sink(run_id, events)
        if run["status"] != "cancelling":
            run["status"] = "cancelling"
            run["required_action"] = None
            events("thread.run.cancelling", run)
        snapshot = dict(run)  # shallow, as `_settle`'s
        if self.settings.progress == "resting":
            self._advance(run, events, until_resting=True)
        return snapshot

    # --- endings -------------------------------------------------------------------------

    def _finish(self, run: Obj, ending: Ending, events: Events) -> None:
        """Move a run to a terminal status, settle its steps and unlock its thread.

        An expiry is dated at the deadline, whenever it is noticed."""
        now = run["expires_at"] if ending.status == "expired" else self.clock.now()
        status, error = ending.status, ending.error
        state = self.states[run["id"]]
        step_status = status if status in STEP_ENDINGS else None
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
        if ending.reason is not None:
            run["incomplete_details"] = {"reason": ending.reason}
        run["usage"] = objects.usage(state.prompt_tokens, state.completion_tokens)
        self.store.active_run.pop(run["thread_id"], None)
        events(f"thread.run.{status}", run)
