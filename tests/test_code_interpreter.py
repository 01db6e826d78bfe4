"""code_interpreter inside runs: the step a `reply.code_interpreter` makes (nothing is executed),
its output files (real `assistants_output` files, read back through the Files API), the message
that shows them, and the stream the SDK's handler reads."""

from __future__ import annotations

import base64
import json
from typing import Any

import anyio
import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import ImageFile
from openai.types.beta.threads.runs import ToolCall, ToolCallDelta
from openapi import assert_valid, assert_valid_event

from emulator import Emulator, RunContext, reply
from emulator.engine.knowledge import NO_KNOWLEDGE

PNG = b"\x89PNG\r\n\x1a\n fake chart"
CODE = "import math\r\nprint(math.sqrt(2))"
BASE = "https://api.openai.com/v1"
HEADERS = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture
def analyst(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": "Plot sqrt(2)."}])


def chart_script(emu: Emulator) -> None:
    emu.script(
        reply.code_interpreter(
            CODE, logs="1.4142135623730951\n", images=[("chart.png", PNG)], files=[("d.csv", b"x")]
        ),
        reply.text(
            "Here is the chart; data: sandbox:/mnt/data/d.csv",
            image_files=["chart.png"],
            annotations=[reply.file_path("sandbox:/mnt/data/d.csv", "d.csv")],
        ),
    )


def outputs(client: openai.OpenAI) -> dict[str, tuple[str, bytes]]:
    """The files code_interpreter wrote, oldest first: id -> (filename, downloaded bytes)."""
    written = client.files.list(purpose="assistants_output", order="asc")
    return {f.id: (f.filename, client.files.content(f.id).read()) for f in written}


def raw_list(client: openai.OpenAI, kind: str, thread_id: str, run_id: str = "") -> list[Any]:
    if kind == "steps":
        answer = client.beta.threads.runs.steps.with_raw_response.list(
            run_id, thread_id=thread_id, order="asc"
        )
    else:
        answer = client.beta.threads.messages.with_raw_response.list(thread_id=thread_id)
    data: list[Any] = json.loads(answer.text)["data"]
    for item in data:
        assert_valid("RunStepObject" if kind == "steps" else "MessageObject", item)
    return data


def test_the_step_holds_the_input_and_the_given_outputs(
    emu: Emulator,
    client: openai.OpenAI,
    analyst: Assistant,
    thread: Thread,
) -> None:
    chart_script(emu)

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=analyst.id)

    assert run.status == "completed"
    tool_step, message_step = raw_list(client, "steps", thread.id, run.id)
    (call,) = tool_step["step_details"]["tool_calls"]
    written = outputs(client)
    image_id, csv_id = written
    assert call == {
        "id": call["id"],
        "type": "code_interpreter",
        "code_interpreter": {
            "input": CODE,
            "outputs": [
                {"type": "logs", "logs": "1.4142135623730951\n"},
                {"type": "image", "image": {"file_id": image_id}},
            ],
        },
    }
    assert written == {image_id: ("chart.png", PNG), csv_id: ("d.csv", b"x")}
    assert message_step["type"] == "message_creation"
    (message,) = [m for m in raw_list(client, "messages", thread.id) if m["role"] == "assistant"]
    image, text = message["content"]
    assert image == {"type": "image_file", "image_file": {"file_id": image_id}}
    (note,) = text["text"]["annotations"]
    assert note["type"] == "file_path" and note["file_path"] == {"file_id": csv_id}
    assert text["text"]["value"][note["start_index"] : note["end_index"]] == note["text"]


def test_the_next_turn_sees_the_call(
    emu: Emulator,
    client: openai.OpenAI,
    analyst: Assistant,
    thread: Thread,
) -> None:
    seen: list[RunContext] = []

    def answer(context: RunContext) -> str:
        seen.append(context)
        return "Done."

    emu.script(reply.code_interpreter("1+1", images=[PNG]), answer)

    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=analyst.id)

    (call,) = seen[0].code_interpreter_calls
    assert (call.input, call.logs) == ("1+1", None)
    (image,) = call.images
    assert image.filename == "image-0.png"
    assert outputs(client) == {image.file_id: ("image-0.png", PNG)}


def test_scripted_json_code_interpreter_replies(emu: Emulator) -> None:
    data = {
        "code_interpreter": {
            "input": "x",
            "logs": "1",
            "images": [{"filename": "a.png", "base64": base64.b64encode(PNG).decode()}],
        }
    }

    assert reply.from_data(data) == reply.code_interpreter("x", logs="1", images=[("a.png", PNG)])
    with pytest.raises(ValueError, match="bad base64"):
        reply.from_data(
            {"code_interpreter": {"input": "x", "images": [{"filename": "a", "base64": "!"}]}}
        )


@pytest.mark.parametrize("setup", ["no tool", "no file storage"])
def test_a_call_the_run_cannot_make_fails_the_run(
    emu: Emulator, client: openai.OpenAI, thread: Thread, setup: str
) -> None:
    tools: Any = [] if setup == "no tool" else [{"type": "code_interpreter"}]
    bot = client.beta.assistants.create(model="gpt-4o", tools=tools)
    emu.backend.engine.knowledge = NO_KNOWLEDGE
    emu.script(reply.code_interpreter("plot()", images=[PNG]))

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)

    assert run.status == "failed" and run.last_error is not None
    expected = "no code_interpreter tool" if setup == "no tool" else "has no file storage"
    assert expected in run.last_error.message
    assert [s.type for s in client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)] == []


# --- streaming --------------------------------------------------------------------------------


def test_the_stream_sends_the_head_the_input_fragments_and_each_output(
    emu: Emulator, client: openai.OpenAI, analyst: Assistant, thread: Thread
) -> None:
    import httpx

    chart_script(emu)
    with httpx.Client() as http:
        answer = http.post(
            f"{BASE}/threads/{thread.id}/runs",
            json={"assistant_id": analyst.id, "stream": True},
            headers=HEADERS,
        )
    frames = []
    for block in answer.text[:-2].split("\n\n"):
        event, data = block.split("\n")
        frames.append((event.removeprefix("event: "), data.removeprefix("data: ")))
    events = [(name, json.loads(data)) for name, data in frames[:-1]]
    for name, data in events:
        if name.startswith(("thread.run.step.", "thread.message.")):
            assert_valid_event(name, data)

    calls = [
        d["delta"]["step_details"]["tool_calls"][0]
        for n, d in events
        if n == "thread.run.step.delta"
    ]
    head, *rest = calls
    assert head == {
        "index": 0,
        "id": head["id"],
        "type": "code_interpreter",
        "code_interpreter": {"input": "", "outputs": []},
    }
    fragments = [c["code_interpreter"]["input"] for c in rest if "input" in c["code_interpreter"]]
    assert len(fragments) > 1 and "".join(fragments) == CODE
    emitted = [c["code_interpreter"]["outputs"] for c in rest if "outputs" in c["code_interpreter"]]
    image_id = next(iter(outputs(client)))
    assert emitted == [
        [{"index": 0, "type": "logs", "logs": "1.4142135623730951\n"}],
        [{"index": 1, "type": "image", "image": {"file_id": image_id}}],
    ]
    assert all(set(c) == {"index", "type", "code_interpreter"} for c in rest)
    (completed,) = [
        d for n, d in events if n == "thread.run.step.completed" and d["type"] == "tool_calls"
    ]
    assert completed["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == CODE
    parts = [d["delta"]["content"][0] for n, d in events if n == "thread.message.delta"]
    assert parts[0] == {"index": 0, "type": "image_file", "image_file": {"file_id": image_id}}
    assert {p["index"] for p in parts[1:]} == {1}


class Handler(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.seen.append(("created", tool_call.model_dump()))

    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        self.seen.append(("delta", snapshot.model_dump()))

    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.seen.append(("done", tool_call.model_dump()))

    def on_image_file_done(self, image_file: ImageFile) -> None:
        self.seen.append(("image", image_file.file_id))


class AsyncHandler(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    async def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.seen.append(("created", tool_call.model_dump()))

    async def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCall) -> None:
        self.seen.append(("delta", snapshot.model_dump()))

    async def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.seen.append(("done", tool_call.model_dump()))

    async def on_image_file_done(self, image_file: ImageFile) -> None:
        self.seen.append(("image", image_file.file_id))


def check_handler(seen: list[tuple[str, Any]], client: openai.OpenAI) -> None:
    image_id, _ = outputs(client)  # the image, then the csv
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == "created" and "delta" in kinds and kinds.count("image") == 1
    done = dict(seen)["done"]
    assert done["code_interpreter"]["input"] == CODE
    assert done["code_interpreter"]["outputs"] == [
        {"index": 0, "type": "logs", "logs": "1.4142135623730951\n"},
        {"index": 1, "type": "image", "image": {"file_id": image_id}},
    ]
    assert dict(seen)["image"] == image_id


def test_the_sdk_stream_handler_sees_the_call_and_the_image(
    emu: Emulator,
    client: openai.OpenAI,
    analyst: Assistant,
    thread: Thread,
) -> None:
    chart_script(emu)
    handler = Handler()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=analyst.id, event_handler=handler
    ) as stream:
        stream.until_done()

    assert stream.get_final_run().status == "completed"
    check_handler(handler.seen, client)


def test_the_async_sdk_stream_handler_sees_the_call_and_the_image(
    emu: Emulator,
    client: openai.OpenAI,
    async_client: openai.AsyncOpenAI,
    analyst: Assistant,
    thread: Thread,
) -> None:
    chart_script(emu)
    handler = AsyncHandler()

    async def main() -> None:
        async with async_client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=analyst.id, event_handler=handler
        ) as stream:
            await stream.until_done()

    anyio.run(main)
    check_handler(handler.seen, client)
