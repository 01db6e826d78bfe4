"""The built-in tools a reply may call: a `file_search` or `code_interpreter` reply writes a
completed `tool_calls` step (the search runs over the run's vector stores through `Knowledge`;
code is never executed, its outputs are the reply's) and the turn's outcome is `Continue`: the
run stays `in_progress` and its next turn asks the responder again, with the call in the
`RunContext`. The run keeps its calls as plain data (`RunState.searches`, `.code_calls`)."""

from __future__ import annotations

from collections.abc import Sequence

from ..retrieval.search import SearchResult, file_search_result
from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.store import Store
from ..wire import events as shapes
from ..wire import objects
from ..wire.objects import Obj
from . import reply
from .answers import Writer
from .knowledge import Knowledge
from .outcomes import (
    Continue,
    Ending,
    Outcome,
    ResponderError,
    RunState,
    add_usage,
    failed,
    remaining_completion,
)
from .responders import CodeInterpreterCall, FileSearchCall, OutputFileRef
from .stream import Events
from .tokens import TokenCounter

MAX_BUILTIN_STEPS = 20  # file_search / code_interpreter steps one run may make
RANKER = "default_2024_08_21"  # what steps report, whatever the tool asked for [DN]


class BuiltinTools:
    """Runs a reply's built-in tool call and writes its step."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        ids: IdGenerator,
        writer: Writer,
        knowledge: Knowledge,
        responder_errors: list[ResponderError],
    ) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids
        self.writer = writer
        self.knowledge = knowledge
        self.responder_errors = responder_errors

    def search(
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
        remaining = remaining_completion(run, state)
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
        add_usage(state, prompt_tokens, tokens)
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

    def interpret(
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
        remaining = remaining_completion(run, state)
        if remaining is not None and tokens > remaining:
            return Ending("incomplete", reason="max_completion_tokens")
        try:
            images = [self._output_file(f) for f in answer.images]
            files = [self._output_file(f) for f in answer.files]
        except Exception as error:  # no file storage, or a plugged-in store refused it
            self.responder_errors.append(ResponderError(run["id"], error))
            return failed("server_error", f"{type(error).__name__}: {error}")
        add_usage(state, prompt_tokens, tokens)
        outputs: list[Obj] = [{"type": "logs", "logs": answer.logs}] if answer.logs else []
        outputs += [{"type": "image", "image": {"file_id": file_id}} for file_id, _ in images]
        call = shapes.code_interpreter_call(
            answer.id or self.ids.new("call"), answer.input, outputs
        )
        step = self._tool_step(run, events)
        if events.active:
            pieces = self.writer.split(answer.input) if answer.input else []
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


def check_builtin(
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


def file_search_call(data: Obj) -> FileSearchCall:
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


def code_call(data: Obj) -> CodeInterpreterCall:
    return CodeInterpreterCall(
        data["call_id"],
        data["input"],
        data["logs"],
        tuple(OutputFileRef(file_id, name) for file_id, name in data["images"]),
        tuple(OutputFileRef(file_id, name) for file_id, name in data["files"]),
    )
