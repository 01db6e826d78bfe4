"""Streaming runs through the SDK's helpers, sync and async: event handlers, final state equal to
the non-streamed path, every streaming entry point, and cancelling or holding a streamed run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta import Assistant, AssistantStreamEvent, Thread
from openai.types.beta.threads import Message, Run, Text, TextDelta
from openai.types.beta.threads.runs import RunStep, ToolCall, ToolCallDelta

from emulator import Emulator, reply

TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather"}},
    {"type": "function", "function": {"name": "get_time"}},
]
USER_MESSAGE: Any = {"role": "user", "content": "Weather in Paris?"}


@pytest.fixture
def assistant(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(model="gpt-4o", tools=TOOLS)


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[USER_MESSAGE])


def weather_calls() -> reply.ToolCalls:
    return reply.tool_calls(
        reply.call("get_weather", {"city": "Paris"}, id="call_weather"),
        reply.call("get_time", {"zone": "CET"}, id="call_time"),
    )


OUTPUTS: Any = [
    {"tool_call_id": "call_weather", "output": "18 C"},
    {"tool_call_id": "call_time", "output": "noon"},
]


class Recorder(AssistantEventHandler):
    """Writes down the handler callbacks a user would implement, in order."""

    def __init__(self, on_event: Callable[[AssistantStreamEvent], None] | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self._on_event = on_event

    def on_event(self, event: AssistantStreamEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def on_run_step_created(self, run_step: RunStep) -> None:
        self.calls.append(("run_step_created", run_step.type))

    def on_message_created(self, message: Message) -> None:
        self.calls.append(("message_created", message.status))

    def on_text_created(self, text: Text) -> None:
        self.calls.append(("text_created", text.value))

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.calls.append(("text_delta", delta.value))

    def on_text_done(self, text: Text) -> None:
        self.calls.append(("text_done", text.value))

    def on_message_done(self, message: Message) -> None:
        self.calls.append(("message_done", message.content[0].text.value))  # type: ignore[union-attr]

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.calls.append(("tool_call_created", (tool_call.id, tool_call.function.name)))  # type: ignore[union-attr]

    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        self.calls.append(("tool_call_delta", delta.function.arguments))  # type: ignore[union-attr]

    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.calls.append(("tool_call_done", tool_call.function.arguments))  # type: ignore[union-attr]

    def on_run_step_done(self, run_step: RunStep) -> None:
        self.calls.append(("run_step_done", run_step.type))

    def on_end(self) -> None:
        self.calls.append(("end", None))


class AsyncRecorder(AsyncAssistantEventHandler):
    """The async twin of `Recorder` (the SDK wants `async def` callbacks)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    async def on_run_step_created(self, run_step: RunStep) -> None:
        self.calls.append(("run_step_created", run_step.type))

    async def on_message_created(self, message: Message) -> None:
        self.calls.append(("message_created", message.status))

    async def on_text_created(self, text: Text) -> None:
        self.calls.append(("text_created", text.value))

    async def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.calls.append(("text_delta", delta.value))

    async def on_text_done(self, text: Text) -> None:
        self.calls.append(("text_done", text.value))

    async def on_message_done(self, message: Message) -> None:
        self.calls.append(("message_done", message.content[0].text.value))  # type: ignore[union-attr]

    async def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.calls.append(("tool_call_created", (tool_call.id, tool_call.function.name)))  # type: ignore[union-attr]

    async def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        self.calls.append(("tool_call_delta", delta.function.arguments))  # type: ignore[union-attr]

    async def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.calls.append(("tool_call_done", tool_call.function.arguments))  # type: ignore[union-attr]

    async def on_run_step_done(self, run_step: RunStep) -> None:
        self.calls.append(("run_step_done", run_step.type))

    async def on_end(self) -> None:
        self.calls.append(("end", None))


TOOL_CALL_CALLBACKS = [
    ("run_step_created", "tool_calls"),
    ("tool_call_created", ("call_weather", "get_weather")),
    *[("tool_call_delta", piece) for piece in ['{"', "city", '":"', "Paris", '"}']],
    ("tool_call_done", '{"city":"Paris"}'),
    ("tool_call_created", ("call_time", "get_time")),
    *[("tool_call_delta", piece) for piece in ['{"', "zone", '":"', "CET", '"}']],
    ("tool_call_done", '{"zone":"CET"}'),
    ("end", None),
]
TEXT_CALLBACKS = [
    ("run_step_done", "tool_calls"),  # the resumed stream completes the tool step first
    ("run_step_created", "message_creation"),
    ("message_created", "in_progress"),
    ("text_created", "It"),  # the snapshot after the first delta
    ("text_delta", "It"),
    ("text_delta", " is"),
    ("text_delta", " 18 C"),
    ("text_done", "It is 18 C"),
    ("message_done", "It is 18 C"),
    ("run_step_done", "message_creation"),
    ("end", None),
]


def as_dicts(objects: list[Any]) -> list[dict[str, Any]]:
    return [o.model_dump() for o in objects]


# --- a function-call round trip through the handlers ------------------------------------------


def test_function_call_round_trip_with_a_handler(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.script(weather_calls(), reply.text("It is 18 C", chunks=["It", " is", " 18 C"]))
    runs = client.beta.threads.runs
    handler = Recorder()
    with runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
    assert handler.calls == TOOL_CALL_CALLBACKS
    run = s.get_final_run()
    assert run.status == "requires_action" and run.required_action is not None
    assert [c.id for c in run.required_action.submit_tool_outputs.tool_calls] == [
        "call_weather",
        "call_time",
    ]

    handler = Recorder()
    with runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=OUTPUTS, event_handler=handler
    ) as s:
        s.until_done()
    assert handler.calls == TEXT_CALLBACKS
    final = s.get_final_run()
    assert final.model_dump() == runs.retrieve(thread_id=thread.id, run_id=run.id).model_dump()
    assert final.status == "completed" and final.usage is not None
    (message,) = s.get_final_messages()
    stored = client.beta.threads.messages.retrieve(thread_id=thread.id, message_id=message.id)
    assert message.model_dump() == stored.model_dump()
    steps = runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc").data
    assert [(step.type, step.status) for step in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]


@pytest.mark.anyio
async def test_function_call_round_trip_with_an_async_handler(
    emu: Emulator, async_client: openai.AsyncOpenAI
) -> None:
    emu.script(weather_calls(), reply.text("It is 18 C", chunks=["It", " is", " 18 C"]))
    assistant = await async_client.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    thread = await async_client.beta.threads.create(messages=[USER_MESSAGE])
    runs = async_client.beta.threads.runs
    handler = AsyncRecorder()
    async with runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as s:
        await s.until_done()
    assert handler.calls == TOOL_CALL_CALLBACKS
    run = await s.get_final_run()
    handler = AsyncRecorder()
    async with runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=OUTPUTS, event_handler=handler
    ) as s:
        await s.until_done()
    assert handler.calls == TEXT_CALLBACKS
    final = await s.get_final_run()
    stored = await runs.retrieve(thread_id=thread.id, run_id=run.id)
    assert final.model_dump() == stored.model_dump() and final.status == "completed"
    assert [m.content[0].text.value for m in await s.get_final_messages()] == ["It is 18 C"]  # type: ignore[union-attr]


def test_text_deltas_are_the_replys_chunks(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.script(reply.text("Hello there", chunks=["Hel", "lo", " there"]))
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
        assert list(s.text_deltas) == ["Hel", "lo", " there"]
    assert s.get_final_run().status == "completed"


@pytest.mark.anyio
async def test_async_text_deltas(emu: Emulator, async_client: openai.AsyncOpenAI) -> None:
    emu.script("Hello there, world.")
    assistant = await async_client.beta.assistants.create(model="gpt-4o")
    async with async_client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id, thread={"messages": [USER_MESSAGE]}
    ) as s:
        assert [text async for text in s.text_deltas] == ["Hello", " there", ",", " world", "."]


# --- every streaming entry point ------------------------------------------------------------


def event_names(stream: Any) -> list[str]:
    names = [event.event for event in stream]
    return [n for i, n in enumerate(names) if not (n.endswith(".delta") and names[i - 1] == n)]


RUN_START = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
TEXT_EVENTS = [
    *RUN_START,
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]
ENTRY_POINTS: dict[str, Callable[[openai.OpenAI, str, str], list[str]]] = {
    "runs.create(stream=True)": lambda client, asst, thread: event_names(
        client.beta.threads.runs.create(thread_id=thread, assistant_id=asst, stream=True)
    ),
    "runs.stream": lambda client, asst, thread: _helper_names(
        client.beta.threads.runs.stream(thread_id=thread, assistant_id=asst)
    ),
    "runs.create_and_stream": lambda client, asst, thread: _helper_names(
        client.beta.threads.runs.create_and_stream(thread_id=thread, assistant_id=asst)
    ),
    "threads.create_and_run(stream=True)": lambda client, asst, thread: event_names(
        client.beta.threads.create_and_run(
            assistant_id=asst, thread={"messages": [USER_MESSAGE]}, stream=True
        )
    ),
    "threads.create_and_run_stream": lambda client, asst, thread: _helper_names(
        client.beta.threads.create_and_run_stream(
            assistant_id=asst, thread={"messages": [USER_MESSAGE]}
        )
    ),
}


def _helper_names(manager: Any) -> list[str]:
    with manager as stream:
        return event_names(stream)


@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
def test_every_entry_point_streams_the_run(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread, entry_point: str
) -> None:
    emu.script("Hi!")
    names = ENTRY_POINTS[entry_point](client, assistant.id, thread.id)
    creates_thread = "threads.create_and_run" in entry_point
    assert names == (["thread.created"] if creates_thread else []) + TEXT_EVENTS


def test_raw_submit_tool_outputs_stream(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.script(weather_calls(), "It is 18 C")
    runs = client.beta.threads.runs
    events = list(runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True))
    run = events[-1].data
    assert events[-1].event == "thread.run.requires_action" and isinstance(run, Run)
    stream = runs.submit_tool_outputs(
        thread_id=thread.id, run_id=run.id, tool_outputs=OUTPUTS, stream=True
    )
    assert event_names(stream) == ["thread.run.step.completed", *TEXT_EVENTS[1:]]


@pytest.mark.anyio
async def test_async_raw_streams(emu: Emulator, async_client: openai.AsyncOpenAI) -> None:
    emu.script(weather_calls(), "It is 18 C")
    assistant = await async_client.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    created = await async_client.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [USER_MESSAGE]}, stream=True
    )
    events = [event async for event in created]
    assert events[0].event == "thread.created"
    run = events[-1].data
    assert events[-1].event == "thread.run.requires_action" and isinstance(run, Run)
    resumed = await async_client.beta.threads.runs.submit_tool_outputs(
        thread_id=run.thread_id, run_id=run.id, tool_outputs=OUTPUTS, stream=True
    )
    assert [event.event async for event in resumed][-1] == "thread.run.completed"


# --- a streamed run leaves the state a plain one leaves ---------------------------------------


def drive(client: openai.OpenAI, streamed: bool) -> list[str]:
    """Three runs on one thread (tool calls then text, incomplete, failed); the thread ids."""
    assistant = client.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    thread = client.beta.threads.create(messages=[USER_MESSAGE])
    runs = client.beta.threads.runs
    if streamed:
        with runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
            run = s.get_final_run()
        with runs.submit_tool_outputs_stream(
            thread_id=thread.id, run_id=run.id, tool_outputs=OUTPUTS
        ) as s:
            s.until_done()
        for _ in range(2):
            with runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
                s.until_done()
        with client.beta.threads.create_and_run_stream(
            assistant_id=assistant.id, thread={"messages": [USER_MESSAGE]}
        ) as s:
            other = s.get_final_run().thread_id
    else:
        run = runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        runs.submit_tool_outputs_and_poll(thread_id=thread.id, run_id=run.id, tool_outputs=OUTPUTS)
        for _ in range(2):
            runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        other = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id, thread={"messages": [USER_MESSAGE]}
        ).thread_id
    return [thread.id, other]


def state_after(streamed: bool, progress: Any) -> dict[str, Any]:
    with Emulator(seed=7) as emu, openai.OpenAI(api_key="sk-test") as client:
        emu.progress = progress
        emu.script(
            weather_calls(),
            "It is 18 C at noon.",
            reply.incomplete(text="Partial"),
            reply.fail(),
            "Hello again.",
        )
        thread_ids = drive(client, streamed)
        assert emu.check_invariants() == []
        runs = {t: emu.runs(t) for t in thread_ids}
        return {
            "assistants": emu.assistants,
            "threads": emu.threads,
            "messages": {t: emu.messages(t) for t in thread_ids},
            "runs": runs,
            "steps": {r["id"]: emu.steps(r["id"]) for t in thread_ids for r in runs[t]},
        }


@pytest.mark.parametrize("progress", ["resting", "step"])
def test_streamed_and_polled_runs_leave_the_same_state(progress: str) -> None:
    streamed, polled = state_after(True, progress), state_after(False, progress)
    assert streamed == polled
    statuses = [r["status"] for runs in streamed["runs"].values() for r in runs]
    assert statuses == ["completed", "incomplete", "failed", "completed"]


# --- cancelling, holding, observing a run while it streams ------------------------------------


def stream_names(
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    on_event: Callable[[AssistantStreamEvent], None],
) -> tuple[list[str], Run]:
    names: list[str] = []

    def record(event: AssistantStreamEvent) -> None:
        names.append(event.event)
        on_event(event)

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Recorder(record)
    ) as s:
        s.until_done()
    return [n for i, n in enumerate(names) if not (n.endswith(".delta") and names[i - 1] == n)], (
        s.get_final_run()
    )


@pytest.mark.parametrize(
    ("hold", "at", "started"),
    [
        # the create request itself produced `queued` too: it is read before the cancel's events
        ("queued", "thread.run.created", ["thread.run.created", "thread.run.queued"]),
        ("in_progress", "thread.run.in_progress", RUN_START),
        # in "resting" mode the cancel request first moves the run as far as it can go
        ("in_progress", "thread.run.created", RUN_START),
    ],
)
def test_cancelling_while_reading_the_stream(
    emu: Emulator,
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    hold: Any,
    at: str,
    started: list[str],
) -> None:
    """A cancel sent while handling an event shows up next in the same stream."""
    emu.hold(hold)
    runs = client.beta.threads.runs

    def cancel(event: AssistantStreamEvent) -> None:
        if event.event == at:
            assert runs.cancel(thread_id=thread.id, run_id=event.data.id).status == "cancelling"  # type: ignore[union-attr]

    names, run = stream_names(client, assistant, thread, cancel)
    assert names == [*started, "thread.run.cancelling", "thread.run.cancelled"]
    assert run.status == "cancelled" and run.cancelled_at is not None
    assert runs.retrieve(thread_id=thread.id, run_id=run.id).model_dump() == run.model_dump()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Thread free?")


def test_a_held_stream_ends_where_the_run_is_held(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    """Nothing can move a held run while the client only reads, so the stream ends (`done`)."""
    emu.hold("in_progress")
    names, run = stream_names(client, assistant, thread, lambda event: None)
    assert names == RUN_START and run.status == "in_progress"
    emu.release()
    polled = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
    assert polled.status == "completed"


@pytest.mark.parametrize(
    ("act", "ending"),
    [
        (lambda emu: emu.release(), "thread.run.completed"),
        (lambda emu: emu.clock.advance(minutes=11), "thread.run.expired"),
    ],
    ids=["release", "expiry"],
)
def test_releasing_or_expiring_a_held_run_while_reading(
    emu: Emulator,
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    act: Callable[[Emulator], None],
    ending: str,
) -> None:
    emu.hold("in_progress")

    def on_event(event: AssistantStreamEvent) -> None:
        if event.event == "thread.run.in_progress":
            act(emu)

    names, run = stream_names(client, assistant, thread, on_event)
    assert names[:3] == RUN_START
    assert names[-1] == ending and run.status == ending.rsplit(".", 1)[1]


def test_a_read_during_the_stream_moves_the_run_and_the_stream_shows_it(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    """In "resting" mode a GET drives the run to rest; its events still reach the stream."""
    emu.script("Hi!")
    seen: list[str] = []

    def peek(event: AssistantStreamEvent) -> None:
        if event.event == "thread.run.created":
            run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=event.data.id)
            seen.append(run.status)

    names, run = stream_names(client, assistant, thread, peek)
    assert seen == ["completed"] and names == TEXT_EVENTS and run.status == "completed"


def test_a_stream_closed_early_stops_driving_its_run(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    """The run moves on as observations move it (here: one status per GET in "step" mode)."""
    emu.progress = "step"
    runs = client.beta.threads.runs
    stream = runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    first = next(iter(stream))
    stream.close()
    assert first.event == "thread.run.created"
    assert emu.runs(thread.id)[0]["status"] == "queued"
    assert runs.retrieve(thread_id=thread.id, run_id=first.data.id).status == "in_progress"
    emu.progress = "resting"
    assert runs.retrieve(thread_id=thread.id, run_id=first.data.id).status == "completed"
    assert len(emu.messages(thread.id)) == 2


def test_in_step_mode_a_stream_still_follows_the_run_to_rest(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.progress = "step"
    names, run = stream_names(client, assistant, thread, lambda event: None)
    assert names == TEXT_EVENTS and run.status == "completed"


@pytest.mark.anyio
async def test_cancelling_an_async_stream(emu: Emulator, async_client: openai.AsyncOpenAI) -> None:
    emu.hold("in_progress")
    assistant = await async_client.beta.assistants.create(model="gpt-4o")
    thread = await async_client.beta.threads.create(messages=[USER_MESSAGE])
    runs = async_client.beta.threads.runs
    names: list[str] = []
    async with runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        async for event in stream:
            names.append(event.event)
            if event.event == "thread.run.in_progress":
                await runs.cancel(thread_id=thread.id, run_id=event.data.id)
    assert names[-2:] == ["thread.run.cancelling", "thread.run.cancelled"]
    assert (await stream.get_final_run()).status == "cancelled"


def test_reset_forgets_open_streams(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    stream: Iterator[Any] = iter(
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    )
    assert next(stream).event == "thread.run.created"
    emu.reset()
    assert [event.event for event in stream] == ["thread.run.queued"]  # then done: run is gone


def test_deleting_the_thread_ends_its_stream(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    def delete(event: AssistantStreamEvent) -> None:
        if event.event == "thread.run.created":
            assert client.beta.threads.delete(thread.id).deleted

    names, run = stream_names(client, assistant, thread, delete)
    assert names == ["thread.run.created", "thread.run.queued"] and run.status == "queued"
    assert emu.threads == {} and emu.check_invariants() == []
