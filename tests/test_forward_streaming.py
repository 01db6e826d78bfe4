"""A streamed run on a forwarding responder sends the model's deltas as the model produces them.

The fake upstream is an `httpx.MockTransport` whose `stream: true` answer is a generator: a
gate in it holds the rest of the answer until the test opens it, so a test can see that the
client got the first delta while the upstream had not finished. Waits are bounded, never sleeps.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.beta import Assistant, Thread
from test_streaming_wire import BASE, HEADERS, check_stream, outline, parse_sse

from emulator import Emulator
from emulator.engine.forward import forward

URL = "http://127.0.0.1:8080/v1"
WAIT = 10  # seconds: a bound on every wait
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
TEXT = ["Sunny", " in", " Paris", " today."]  # the upstream's pieces (not the emulator's words)
CALLS = [("get_weather", ['{"city":', '"Paris"}']), ("get_time", ["{}"])]


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return (
        f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n".encode()
    )


def text_chunks() -> list[bytes]:
    return [chunk({"role": "assistant", "content": piece}) for piece in TEXT] + [chunk({}, "stop")]


def call_chunks() -> list[bytes]:
    """Two parallel calls, without ids (the emulator draws them), arguments in pieces."""
    chunks = []
    for index, (name, pieces) in enumerate(CALLS):
        head = {"index": index, "function": {"name": name, "arguments": ""}}
        chunks.append(chunk({"tool_calls": [head]}))
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in pieces
        ]
    return [*chunks, chunk({}, "tool_calls")]


def whole(chunks: list[bytes]) -> dict[str, Any]:
    """The `chat.completion` a non-streamed request gets for the same answer."""
    text = "".join(TEXT) if chunks == text_chunks() else None
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if text is None:
        message["tool_calls"] = [
            {"type": "function", "function": {"name": name, "arguments": "".join(pieces)}}
            for name, pieces in CALLS
        ]
    reason = "stop" if text is not None else "tool_calls"
    return {"object": "chat.completion", "choices": [{"message": message, "finish_reason": reason}]}


class GatedUpstream:
    """Answers with `answers` in turn (then "Done."); a streamed answer stops after `before`
    chunks until `gate` is set. `sent` counts the chunks sent, `closed` that the emulator
    closed the response."""

    def __init__(self, *answers: list[bytes], before: int = 1) -> None:
        self.answers = list(answers)
        self.before = before
        self.gate = threading.Event()
        self.sent = 0
        self.closed = threading.Event()
        self.finished = threading.Event()
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        chunks = self.answers.pop(0) if self.answers else [chunk({"content": "Done."}, "stop")]
        if not json.loads(request.content).get("stream"):
            return httpx.Response(200, json=whole(chunks) if len(chunks) > 1 else _done())
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=self._stream(chunks)
        )

    def _stream(self, chunks: list[bytes]) -> Iterator[bytes]:
        try:
            for n, data in enumerate(chunks):
                if n == self.before:
                    assert self.gate.wait(WAIT), "the test never opened the gate"
                self.sent += 1
                yield data
            yield b"data: [DONE]\n\n"
            self.finished.set()
        finally:
            self.closed.set()


def _done() -> dict[str, Any]:
    message = {"role": "assistant", "content": "Done."}
    return {"object": "chat.completion", "choices": [{"message": message, "finish_reason": "stop"}]}


@pytest.fixture
def assistant(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(model="gpt-4o", tools=[WEATHER, TIME])


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])


def test_the_first_delta_reaches_the_client_before_the_upstream_finishes(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    upstream = GatedUpstream(text_chunks())
    emu.respond_with(forward(URL, transport=upstream.transport))
    deltas: list[str] = []
    upstream_done_at_first_delta = None

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
        for event in s:
            if event.event == "thread.message.delta":
                if upstream_done_at_first_delta is None:
                    upstream_done_at_first_delta = upstream.finished.is_set()
                    upstream.gate.set()
                deltas += [part.text.value for part in event.data.delta.content]  # type: ignore[union-attr]
        final = s.get_final_run()

    assert upstream_done_at_first_delta is False
    assert deltas == TEXT  # the model's own pieces, one delta each
    assert final.status == "completed"
    assert emu.messages(thread.id)[-1]["content"][0]["text"]["value"] == "".join(TEXT)


@pytest.mark.parametrize("answer", [text_chunks, call_chunks], ids=["text", "tool calls"])
def test_a_streamed_run_leaves_the_state_and_ids_of_a_polled_one(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread, answer: Any
) -> None:
    before = emu.snapshot()
    states = []
    for streamed in (True, False):
        emu.load(before)
        upstream = GatedUpstream(answer(), before=0)
        upstream.gate.set()
        emu.respond_with(forward(URL, transport=upstream.transport))
        body = {"assistant_id": assistant.id}
        if streamed:
            frames = post_stream(f"/threads/{thread.id}/runs", body)
            events = check_stream(frames)
            run = events[-1][1]
        else:
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=0
            ).model_dump()
        if run["status"] == "requires_action":
            calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
            outputs = [{"tool_call_id": c["id"], "output": "ok"} for c in calls]
            client.beta.threads.runs.submit_tool_outputs_and_poll(
                run_id=run["id"], thread_id=thread.id, tool_outputs=outputs, poll_interval_ms=0
            )
        runs = emu.runs(thread.id)
        states.append((emu.messages(thread.id), runs, [emu.steps(r["id"]) for r in runs]))
        if streamed:
            names = outline(frames)
            if answer is text_chunks:
                assert names[3:8] == [
                    "thread.run.step.created",
                    "thread.run.step.in_progress",
                    "thread.message.created",
                    "thread.message.in_progress",
                    "thread.message.delta*",
                ]
                deltas = [n for n, _ in frames if n == "thread.message.delta"]
                assert len(deltas) == len(TEXT)
            else:
                pieces = [n for n, _ in frames if n == "thread.run.step.delta"]
                assert len(pieces) == 2 + sum(len(p) for _, p in CALLS)

    assert states[0] == states[1]
    assert emu.check_invariants() == []


def post_stream(path: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The frames of a `stream: true` POST on the raw wire."""
    with httpx.Client() as http:
        response = http.post(BASE + path, json={**body, "stream": True}, headers=HEADERS)
    return parse_sse(response.text)


def test_a_cancel_during_a_streamed_forwarded_turn_closes_the_upstream_stream(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    upstream = GatedUpstream(text_chunks())
    emu.respond_with(forward(URL, transport=upstream.transport))
    names: list[str] = []

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as s:
        for event in s:
            names.append(event.event)
            if event.event == "thread.message.delta" and not upstream.gate.is_set():
                run_id = emu.runs(thread.id)[0]["id"]
                run = client.beta.threads.runs.cancel(run_id, thread_id=thread.id)
                assert run.status == "cancelling"
                upstream.gate.set()  # the upstream sends its next chunk: the emulator stops

    assert upstream.closed.wait(WAIT)
    assert not upstream.finished.is_set()
    assert upstream.sent < len(TEXT) + 1
    assert names[-2:] == ["thread.run.cancelling", "thread.run.cancelled"]
    [stored] = emu.runs(thread.id)
    assert stored["status"] == "cancelled"
    assert [m["role"] for m in emu.messages(thread.id)] == ["user"]  # the late reply is dropped
    assert emu.steps(stored["id"]) == []
    assert emu.check_invariants() == []


class TextCollector(openai.AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self.arguments: list[str] = []

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.pieces.append(delta.value)

    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        if delta.function is not None and delta.function.arguments:
            self.arguments.append(delta.function.arguments)


class AsyncTextCollector(openai.AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []

    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.pieces.append(delta.value)


def test_the_sdk_event_handler_gets_the_models_pieces(
    emu: Emulator, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    upstream = GatedUpstream(call_chunks(), text_chunks(), before=0)
    upstream.gate.set()
    emu.respond_with(forward(URL, transport=upstream.transport))
    runs = client.beta.threads.runs
    handler = TextCollector()
    with runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
    run = handler.current_run
    assert run is not None and run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert handler.arguments == [p for _, pieces in CALLS for p in pieces]
    assert [c.function.arguments for c in calls] == ['{"city":"Paris"}', "{}"]

    after = TextCollector()
    with runs.submit_tool_outputs_stream(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "ok"} for c in calls],
        event_handler=after,
    ) as s:
        s.until_done()
    assert after.pieces == TEXT
    assert emu.runs(thread.id)[0]["status"] == "completed"


@pytest.mark.anyio
async def test_the_async_sdk_event_handler_gets_the_models_pieces(
    emu: Emulator, async_client: openai.AsyncOpenAI, assistant: Assistant, thread: Thread
) -> None:
    upstream = GatedUpstream(text_chunks(), before=0)
    upstream.gate.set()
    emu.respond_with(forward(URL, transport=upstream.transport))
    handler = AsyncTextCollector()
    async with async_client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as s:
        await s.until_done()
    assert handler.pieces == TEXT
    assert emu.runs(thread.id)[0]["status"] == "completed"
