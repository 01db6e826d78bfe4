"""Streaming runs on the wire: SSE framing, event order, delta shapes, chunking, and errors
(validation errors as plain JSON 4xx, failures inside a stream as events)."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import openai
import pytest
from openai.types.beta import Assistant, AssistantStreamEvent, Thread

from emulator import Emulator, reply
from emulator.wire import objects

BASE = "https://api.openai.com/v1"
HEADERS = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"}
Frame = tuple[str, str]  # (event name, raw data)
Raw = dict[str, Any]
EVENT_TYPES: dict[str, type[Any]] = {
    typing.get_args(event.model_fields["event"].annotation)[0]: event
    for event in typing.get_args(typing.get_args(AssistantStreamEvent)[0])
}

RUN_START = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
MESSAGE = [
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta*",
]
TEXT_REPLY = [
    *RUN_START,
    *MESSAGE,
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
    "done",
]
TOOL_CALLS = [
    *RUN_START,
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta*",
    "thread.run.requires_action",
    "done",
]
INCOMPLETE_MESSAGE = [
    *RUN_START,
    *MESSAGE,
    "thread.message.incomplete",
    "thread.run.step.completed",
    "thread.run.incomplete",
    "done",
]


# --- helpers ---------------------------------------------------------------------------------


def post_stream(path: str, body: Raw, library: Any = httpx) -> tuple[Any, list[Frame]]:
    """POST a `stream: true` body over the raw wire; the response and its parsed frames."""
    with library.Client() as http:
        response = http.post(BASE + path, json={**body, "stream": True}, headers=HEADERS)
    return response, parse_sse(response.text)


def parse_sse(text: str) -> list[Frame]:
    """Frames of an SSE body that must be exactly `event: X\\ndata: Y\\n\\n` blocks."""
    assert re.fullmatch(r"(event: [a-z._]+\ndata: [^\n]+\n\n)+", text), text[:300]
    return [
        (event.removeprefix("event: "), data.removeprefix("data: "))
        for event, data in (block.split("\n") for block in text[:-2].split("\n\n"))
    ]


def outline(frames: list[Frame]) -> list[str]:
    """Event names, each run of `*.delta` events shown once as `name*`."""
    names: list[str] = []
    for name, _ in frames:
        shown = f"{name}*" if name.endswith(".delta") else name
        if not (shown.endswith("*") and names and names[-1] == shown):
            names.append(shown)
    return names


def check_stream(frames: list[Frame]) -> list[tuple[str, Raw]]:
    """What the SDK's stream handler needs (reference 7.5), checked frame by frame.

    Compact JSON; every event validates as the SDK's own event type; deltas only for messages
    and steps created earlier in the same stream; an `index` on every content part and tool
    call, contiguous from 0, with id/type/name first; completed content equals the deltas.
    """
    assert frames[-1] == ("done", "[DONE]")
    assert [name for name, _ in frames].count("done") == 1
    events: list[tuple[str, Raw]] = []
    texts: dict[str, dict[int, str]] = {}  # message id -> part index -> text so far
    calls: dict[str, int] = {}  # step id -> tool calls announced
    for name, data in frames[:-1]:
        obj = json.loads(data)
        assert data == json.dumps(obj, separators=(",", ":"))
        if name != "error":
            EVENT_TYPES[name].model_validate({"event": name, "data": obj})
        events.append((name, obj))
        if name == "thread.message.created":
            texts[obj["id"]] = {}
        elif name == "thread.message.delta":
            parts = texts[obj["id"]]  # KeyError: a delta before its message.created
            for part in obj["delta"]["content"]:
                index, text = part["index"], part["text"]
                assert part["type"] == "text"
                if index not in parts:
                    assert index == len(parts) and "annotations" in text
                    parts[index] = ""
                else:
                    assert set(text) <= {"value", "annotations"}
                parts[index] += text["value"]
        elif name in ("thread.message.completed", "thread.message.incomplete"):
            parts = texts.get(obj["id"], {})
            assert [p["text"]["value"] for p in obj["content"]] == list(parts.values())
        elif name == "thread.run.step.created":
            calls[obj["id"]] = 0
        elif name == "thread.run.step.delta":
            for call in obj["delta"]["step_details"]["tool_calls"]:
                announced = calls[obj["id"]]  # KeyError: a delta before its step.created
                if call["index"] == announced:
                    assert call["id"] and call["type"] == "function"
                    assert call["function"]["arguments"] == ""
                    assert call["function"]["name"] and call["function"]["output"] is None
                    calls[obj["id"]] = announced + 1
                else:
                    assert call["index"] == announced - 1
                    assert "id" not in call and set(call["function"]) == {"arguments"}
    return events


def events_named(events: list[tuple[str, Raw]], name: str) -> list[Raw]:
    return [data for event, data in events if event == name]


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def assistant(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(
        model="gpt-4o",
        tools=[
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_time"}},
        ],
    )


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])


def weather_calls() -> reply.ToolCalls:
    return reply.tool_calls(
        reply.call("get_weather", {"city": "Paris"}, id="call_weather"),
        reply.call("get_time", {"zone": "CET"}, id="call_time"),
    )


def boom(context: Any) -> str:
    raise RuntimeError("model on fire")


LONG_TEXT = " ".join(f"word{i}" for i in range(400))

# name -> (how the emulator answers, extra run parameters, expected outline)
SCENARIOS: dict[str, tuple[Callable[[Emulator], object], Raw, list[str]]] = {
    "text": (lambda emu: emu.script("Hello there, world."), {}, TEXT_REPLY),
    "parallel tool calls": (lambda emu: emu.script(weather_calls()), {}, TOOL_CALLS),
    "incomplete with text": (
        lambda emu: emu.script(reply.incomplete(text="Partial answer")),
        {},
        INCOMPLETE_MESSAGE,
    ),
    "incomplete without text": (
        lambda emu: emu.script(reply.incomplete("max_prompt_tokens")),
        {},
        [*RUN_START, "thread.run.incomplete", "done"],
    ),
    "max_completion_tokens": (
        lambda emu: emu.script(LONG_TEXT),
        {"max_completion_tokens": 256},
        INCOMPLETE_MESSAGE,
    ),
    "reply.fail": (
        lambda emu: emu.script(reply.fail("rate_limit_exceeded", "Slow down.")),
        {},
        [*RUN_START, "thread.run.failed", "done"],
    ),
    "responder raises": (
        lambda emu: emu.respond_with(boom),
        {},
        [*RUN_START, "thread.run.failed", "done"],
    ),
}


# --- framing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_sse_framing_on_the_raw_wire(
    emu: Emulator, assistant: Assistant, thread: Thread, library: Any
) -> None:
    emu.script("Hello there, world.")
    response, frames = post_stream(
        f"/threads/{thread.id}/runs", {"assistant_id": assistant.id}, library
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in response.headers
    assert response.headers["x-request-id"].startswith("req_")
    assert response.text.startswith("event: thread.run.created\ndata: {")
    assert response.text.endswith("}\n\nevent: done\ndata: [DONE]\n\n")
    check_stream(frames)
    assert outline(frames) == TEXT_REPLY


@pytest.mark.parametrize("endpoint", ["runs", "threads/runs"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_event_order(
    emu: Emulator, assistant: Assistant, thread: Thread, endpoint: str, scenario: str
) -> None:
    answer, params, expected = SCENARIOS[scenario]
    answer(emu)
    if endpoint == "runs":
        path, body = f"/threads/{thread.id}/runs", {"assistant_id": assistant.id, **params}
    else:
        thread_body = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
        path, body = (
            "/threads/runs",
            {"assistant_id": assistant.id, "thread": thread_body, **params},
        )
        expected = ["thread.created", *expected]
    _, frames = post_stream(path, body)
    events = check_stream(frames)
    assert outline(frames) == expected
    run = events_named(events, "thread.run.created")[0]
    assert emu.check_invariants() == []
    assert [event for event in events if event[0].startswith("thread.run.")][-1][1] == (
        emu.runs(run["thread_id"])[-1]
    )


def test_run_objects_evolve_inside_the_stream(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script("Hi!")
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    events = check_stream(frames)
    runs = {name: data for name, data in events if name.startswith("thread.run.")}
    assert runs["thread.run.created"]["status"] == "queued"
    assert runs["thread.run.created"]["started_at"] is None
    assert runs["thread.run.in_progress"]["started_at"] is not None
    completed = runs["thread.run.completed"]
    assert completed["expires_at"] is None and completed["completed_at"] is not None
    assert completed["usage"]["total_tokens"] > 0
    assert runs["thread.run.step.created"]["usage"] is None
    assert runs["thread.run.step.completed"]["usage"] == completed["usage"]
    message = dict(events)["thread.message.created"]
    assert (message["status"], message["content"]) == ("in_progress", [])
    done = dict(events)["thread.message.completed"]
    assert done["status"] == "completed" and done["completed_at"] is not None


# --- deltas ----------------------------------------------------------------------------------


def test_parallel_tool_calls_stream_index_0_then_1(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script(weather_calls())
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    events = check_stream(frames)
    deltas = [
        call
        for delta in events_named(events, "thread.run.step.delta")
        for call in delta["delta"]["step_details"]["tool_calls"]
    ]
    first = [call for call in deltas if "id" in call]
    assert first == [
        {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": "", "output": None},
        }
        for index, call_id, name in [
            (0, "call_weather", "get_weather"),
            (1, "call_time", "get_time"),
        ]
    ]
    indices = [call["index"] for call in deltas]
    assert indices == sorted(indices) and len(deltas) > 4  # arguments come in pieces
    arguments = [
        "".join(c["function"]["arguments"] for c in deltas if c["index"] == i) for i in (0, 1)
    ]
    assert arguments == ['{"city":"Paris"}', '{"zone":"CET"}']
    (run,) = events_named(events, "thread.run.requires_action")
    required = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in required] == [
        ("call_weather", '{"city":"Paris"}'),
        ("call_time", '{"zone":"CET"}'),
    ]
    (step,) = emu.steps(run["id"])
    assert step["status"] == "in_progress"  # no step.completed before requires_action


def test_text_deltas_follow_the_replys_chunks(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script(reply.text("Hello there", chunks=["Hel", "lo", " there"]))
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    events = check_stream(frames)
    message_id = events_named(events, "thread.message.created")[0]["id"]
    assert events_named(events, "thread.message.delta") == [
        {
            "id": message_id,
            "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]},
        }
        for text in [{"value": "Hel", "annotations": []}, {"value": "lo"}, {"value": " there"}]
    ]


def test_default_chunks_are_words_with_their_leading_space(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script("Hello there, world.")
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    deltas = events_named(check_stream(frames), "thread.message.delta")
    values = [d["delta"]["content"][0]["text"]["value"] for d in deltas]
    assert values == ["Hello", " there", ",", " world", "."]


def characters(text: str) -> list[str]:
    return list(text)


@pytest.mark.assistants_emulator(chunker=characters)
def test_the_chunker_setting_splits_text_and_arguments(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script(reply.tool_call("get_weather", {"c": 1}, id="call_weather"), "Sunny")
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    steps = events_named(check_stream(frames), "thread.run.step.delta")
    pieces = [d["delta"]["step_details"]["tool_calls"][0]["function"]["arguments"] for d in steps]
    assert pieces == ["", *'{"c":1}']
    run_id = emu.runs(thread.id)[-1]["id"]
    emu.chunker = lambda text: [text[:2], text[2:]]
    _, frames = post_stream(
        f"/threads/{thread.id}/runs/{run_id}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": "call_weather", "output": "ok"}]},
    )
    deltas = events_named(check_stream(frames), "thread.message.delta")
    assert [d["delta"]["content"][0]["text"]["value"] for d in deltas] == ["Su", "nny"]


def test_chunker_none_restores_the_default(emu: Emulator) -> None:
    emu.chunker = characters
    assert emu.chunker is characters
    emu.chunker = None
    assert emu.chunker("a b") == ["a", " b"]
    with pytest.raises(TypeError):
        emu.chunker = "words"  # type: ignore[assignment]


def test_a_cut_reply_streams_the_prefix_of_its_chunks(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    chunks = [f"{word} " for word in LONG_TEXT.split(" ")]
    chunks[-1] = chunks[-1].rstrip()
    emu.script(reply.text(LONG_TEXT, chunks=chunks))
    _, frames = post_stream(
        f"/threads/{thread.id}/runs",
        {"assistant_id": assistant.id, "max_completion_tokens": 256},
    )
    events = check_stream(frames)
    values = [
        d["delta"]["content"][0]["text"]["value"]
        for d in events_named(events, "thread.message.delta")
    ]
    (message,) = events_named(events, "thread.message.incomplete")
    cut = message["content"][0]["text"]["value"]
    assert values[:-1] == chunks[: len(values) - 1] and chunks[len(values) - 1].startswith(
        values[-1]
    )
    assert "".join(values) == cut and len(cut) < len(LONG_TEXT)
    assert message["incomplete_details"] == {"reason": "max_tokens"}
    (run,) = events_named(events, "thread.run.incomplete")
    assert run["incomplete_details"] == {"reason": "max_completion_tokens"}


# --- submit_tool_outputs ---------------------------------------------------------------------


def test_resumed_stream_starts_with_the_completed_tool_step(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.script(weather_calls(), "18 C at noon.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    _, frames = post_stream(
        f"/threads/{thread.id}/runs/{run.id}/submit_tool_outputs",
        {
            "tool_outputs": [
                {"tool_call_id": "call_time", "output": "noon"},
                {"tool_call_id": "call_weather", "output": "18 C"},
            ]
        },
    )
    events = check_stream(frames)
    assert outline(frames) == ["thread.run.step.completed", *TEXT_REPLY[1:]]
    step = events[0][1]
    assert step["type"] == "tool_calls" and step["usage"] is not None
    outputs = [c["function"]["output"] for c in step["step_details"]["tool_calls"]]
    assert outputs == ["18 C", "noon"]
    queued = events_named(events, "thread.run.queued")[0]
    assert queued["required_action"] is None and queued["id"] == run.id


# --- failures --------------------------------------------------------------------------------


def test_a_failing_responder_ends_the_stream_with_run_failed(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    emu.respond_with(boom)
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    events = check_stream(frames)
    assert "error" not in outline(frames)
    (failed,) = events_named(events, "thread.run.failed")
    assert failed["last_error"] == {
        "code": "server_error",
        "message": "RuntimeError: model on fire",
    }
    assert failed["failed_at"] is not None
    stream = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    last = list(stream)[-1]
    assert last.event == "thread.run.failed" and last.data.last_error is not None
    assert [e.run_id for e in emu.responder_errors] == [failed["id"], last.data.id]


@pytest.mark.parametrize("stream", [True, False])
def test_a_faulty_chunker_fails_the_run_streamed_or_not(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread, stream: bool
) -> None:
    emu.chunker = lambda text: [text.upper()]
    emu.script("hello")
    runs = client.beta.threads.runs
    if stream:
        with runs.stream(thread_id=thread.id, assistant_id=assistant.id) as events:
            run = events.get_final_run()
    else:
        run = runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error"
    assert "do not join back" in run.last_error.message
    assert isinstance(emu.responder_errors[0].error, ValueError)


@pytest.fixture
def broken_step_completion(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """An emulator bug in the middle of a run: building a step's usage raises."""

    def fail(*args: object) -> None:
        raise KeyError("internal")

    monkeypatch.setattr(objects, "usage", fail)


@pytest.mark.usefixtures("broken_step_completion")
def test_an_internal_error_mid_stream_is_an_error_event(
    emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    emu.script("Hello")
    _, frames = post_stream(f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    assert outline(frames) == [*RUN_START, "error", "done"]  # the broken turn sends nothing
    assert json.loads(frames[-2][1]) == {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }


@pytest.mark.usefixtures("broken_step_completion")
@pytest.mark.parametrize("helper", [True, False], ids=["runs.stream", "runs.create"])
def test_the_sdk_raises_on_an_error_event(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread, helper: bool
) -> None:
    emu.script("Hello")
    runs = client.beta.threads.runs
    with pytest.raises(openai.APIError, match="The server had an error"):
        if helper:
            with runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
                stream.until_done()
        else:
            list(runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True))


# --- validation errors are JSON, not streams ---------------------------------------------------


def hold_a_run(emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread) -> str:
    emu.hold("in_progress")
    return client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id).id


def expired_tool_run(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> str:
    emu.script(reply.tool_call("get_weather", id="call_weather"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    emu.clock.advance(minutes=11)
    return run.id


def waiting_tool_run(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> str:
    emu.script(reply.tool_call("get_weather", id="call_weather"))
    return client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    ).id


Setup = Callable[[Emulator, openai.OpenAI, Assistant, Thread], object]
CREATE_ERRORS: dict[str, tuple[Setup, Raw, int, str]] = {
    "active run": (hold_a_run, {}, 400, "already has an active run"),
    "bad temperature": (lambda *_: None, {"temperature": 3}, 400, "temperature"),
    "unknown parameter": (lambda *_: None, {"colour": "red"}, 400, "colour"),
    "unknown assistant": (lambda *_: None, {"assistant_id": "asst_nope"}, 404, "asst_nope"),
}
SUBMIT_ERRORS: dict[str, tuple[Setup, Raw, str]] = {
    "expired run": (expired_tool_run, {}, 'status "expired"'),
    "missing output": (waiting_tool_run, {"tool_outputs": []}, "call_weather"),
    "completed run": (
        lambda emu, client, asst, thread: (
            client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id).id
        ),
        {},
        'status "completed"',
    ),
}


@pytest.mark.parametrize("case", list(CREATE_ERRORS))
def test_rejected_stream_requests_are_plain_json(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread, case: str
) -> None:
    setup, params, status, text = CREATE_ERRORS[case]
    setup(emu, client, assistant, thread)
    threads_before = emu.threads
    for path, body in [
        (f"/threads/{thread.id}/runs", {"assistant_id": assistant.id, **params}),
        ("/threads/runs", {"assistant_id": assistant.id, "thread": {}, **params}),
    ]:
        if case == "active run" and path == "/threads/runs":
            continue  # a new thread has no active run
        with httpx.Client() as http:
            response = http.post(BASE + path, json={**body, "stream": True}, headers=HEADERS)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert text in response.json()["error"]["message"]
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert emu.threads == threads_before  # a rejected create-and-run leaves no thread behind


@pytest.mark.parametrize("helper", [True, False], ids=["runs.stream", "runs.create"])
@pytest.mark.parametrize("case", list(CREATE_ERRORS))
def test_the_sdk_raises_before_streaming(
    emu: Emulator,
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    case: str,
    helper: bool,
) -> None:
    setup, params, status, text = CREATE_ERRORS[case]
    setup(emu, client, assistant, thread)
    extra = {"assistant_id": assistant.id, **params}
    assistant_id = extra.pop("assistant_id")
    error = openai.NotFoundError if status == 404 else openai.BadRequestError
    runs = client.beta.threads.runs
    with pytest.raises(error, match=text):
        if helper:
            with runs.stream(thread_id=thread.id, assistant_id=assistant_id, extra_body=extra):
                pass
        else:
            runs.create(
                thread_id=thread.id, assistant_id=assistant_id, stream=True, extra_body=extra
            )


@pytest.mark.parametrize("helper", [True, False], ids=["submit_tool_outputs_stream", "stream=True"])
@pytest.mark.parametrize("case", list(SUBMIT_ERRORS))
def test_rejected_tool_outputs_raise_bad_request(
    emu: Emulator,
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    case: str,
    helper: bool,
) -> None:
    setup, params, text = SUBMIT_ERRORS[case]
    run_id = setup(emu, client, assistant, thread)
    outputs = params.get("tool_outputs", [{"tool_call_id": "call_weather", "output": "18"}])
    runs = client.beta.threads.runs
    with pytest.raises(openai.BadRequestError, match=re.escape(text)):
        if helper:
            with runs.submit_tool_outputs_stream(
                thread_id=thread.id, run_id=str(run_id), tool_outputs=outputs
            ):
                pass
        else:
            runs.submit_tool_outputs(
                thread_id=thread.id, run_id=str(run_id), tool_outputs=outputs, stream=True
            )
