"""`forward`: each model turn of a run becomes one Chat Completions request to an upstream model.

A fake upstream (an `httpx.MockTransport` that answers in order and records every request)
checks the exact request bodies and every way an answer maps back; a loopback HTTP server
checks that the emulator never intercepts the upstream requests, even for its own base URL.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import openai
import pytest
from conftest import answer_calls
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator import Emulator, RunContext, reply
from emulator.engine.forward import forward, responder_from_cli, turn_seed
from emulator.engine.tokens import counter_for_encoding
from emulator.engine.upstream import CallDelta, Finish, TextDelta

URL = "http://127.0.0.1:8080/v1"
COMPLETIONS = f"{URL}/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
SENT_WEATHER = {"type": "function", "function": WEATHER["function"]}
SENT_TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}

Answer = dict[str, Any] | httpx.Response | Exception


def completion(
    text: str | None = None, *calls: tuple[str | None, str, str], finish_reason: str | None = None
) -> dict[str, Any]:
    """A `chat.completion` body; each call is `(id, name, arguments)`."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {"type": "function", "function": {"name": name, "arguments": arguments}}
            | ({"id": call_id} if call_id is not None else {})
            for call_id, name, arguments in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "local",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or ("tool_calls" if calls else "stop"),
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


class FakeUpstream:
    """A Chat Completions server in a transport: answers in order (then "Hi there!")."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[Answer] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else completion("Hi there!")
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]


@pytest.fixture
def upstream(emu: Emulator) -> FakeUpstream:
    """A fake upstream that `emu` forwards every turn to."""
    fake = FakeUpstream()
    emu.respond_with(forward(URL, transport=fake.transport))
    return fake


@pytest.fixture
def assistant(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(
        model="gpt-4o", instructions="Answer briefly.", tools=[WEATHER, TIME]
    )


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}]
    )


def run(client: openai.OpenAI, thread: Thread, assistant: Assistant, **fields: Any) -> Run:
    return client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, **fields
    )


def calls_of(run: Run) -> list[tuple[str, str, str]]:
    assert run.status == "requires_action" and run.required_action is not None
    return [
        (c.id, c.function.name, c.function.arguments)
        for c in run.required_action.submit_tool_outputs.tool_calls
    ]


def last_text(client: openai.OpenAI, thread: Thread) -> str:
    message = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    return message.content[0].text.value  # type: ignore[union-attr]


# --- what is sent --------------------------------------------------------------------------


def test_a_text_turn_sends_the_plainest_request_and_the_answer_becomes_the_message(
    client: openai.OpenAI, upstream: FakeUpstream, thread: Thread
) -> None:
    plain = client.beta.assistants.create(model="gpt-4o", instructions="Answer briefly.")

    done = run(client, thread, plain)

    assert done.status == "completed"
    assert last_text(client, thread) == "Hi there!"
    (request,) = upstream.requests
    assert (request.method, str(request.url)) == ("POST", COMPLETIONS)
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert upstream.bodies == [
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "What is the weather in Paris?"},
            ],
            "temperature": 1.0,
            "top_p": 1.0,
            "seed": turn_seed(0, done.id, 0),
        }
    ]


@pytest.mark.parametrize(
    ("fields", "system"),
    [
        ({}, "Answer briefly."),
        ({"additional_instructions": "Reply in French."}, "Answer briefly.\n\nReply in French."),
        ({"instructions": "Be terse."}, "Be terse."),
        (
            {"instructions": "Be terse.", "additional_instructions": "Reply in French."},
            "Be terse.\n\nReply in French.",
        ),
    ],
)
def test_the_system_message_is_the_instructions_with_additional_instructions_appended(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    fields: dict[str, Any],
    system: str,
) -> None:
    run(client, thread, assistant, **fields)

    assert upstream.bodies[0]["messages"][0] == {"role": "system", "content": system}


def test_without_instructions_no_system_message_is_sent(
    client: openai.OpenAI, upstream: FakeUpstream, thread: Thread
) -> None:
    bare = client.beta.assistants.create(model="gpt-4o")

    run(client, thread, bare)

    assert upstream.bodies[0]["messages"] == [
        {"role": "user", "content": "What is the weather in Paris?"}
    ]


def test_the_history_is_what_truncation_kept_in_order_with_roles(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant
) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five"},
        ]
    )

    run(
        client,
        thread,
        assistant,
        truncation_strategy={"type": "last_messages", "last_messages": 3},
    )

    assert upstream.bodies[0]["messages"][1:] == [
        {"role": "user", "content": "three"},
        {"role": "assistant", "content": "four"},
        {"role": "user", "content": "five"},
    ]


def test_a_tool_round_trip_with_two_parallel_calls_keeps_each_call_its_own_id(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers.append(
        completion(
            None,
            ("call_up_1", "get_weather", '{"city":"Paris"}'),
            ("call_up_2", "get_time", "{}"),
        )
    )
    upstream.answers.append(completion("Sunny, and it is noon."))

    waiting = run(client, thread, assistant)
    assert calls_of(waiting) == [
        ("call_up_1", "get_weather", '{"city":"Paris"}'),
        ("call_up_2", "get_time", "{}"),
    ]
    done = answer_calls(client, waiting, "sunny", "12:00")

    assert done.status == "completed"
    assert last_text(client, thread) == "Sunny, and it is noon."
    first, second = upstream.bodies
    assert first["tools"] == [SENT_WEATHER, SENT_TIME]
    assert second["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_up_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_up_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_up_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_up_2", "content": "12:00"},
    ]
    assert second["seed"] == turn_seed(0, done.id, 1) != first["seed"]


def test_earlier_tool_rounds_each_call_before_its_output(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers += [
        completion(None, ("call_a", "get_weather", '{"city":"Paris"}')),
        completion(None, ("call_b", "get_time", "{}")),
        completion("Done."),
    ]

    done = answer_calls(
        client, answer_calls(client, run(client, thread, assistant), "sunny"), "noon"
    )

    assert done.status == "completed"
    assert upstream.bodies[2]["messages"][2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
    ]


@pytest.mark.parametrize(
    ("ids", "kept"),
    [
        ((None, None), (False, False)),  # no ids: fresh ones
        (("call_same", "call_same"), (True, False)),  # one id for every call: the second is fresh
        (("", "call_x"), (False, True)),
    ],
)
def test_calls_without_a_usable_upstream_id_get_fresh_distinct_ids(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    ids: tuple[str | None, str | None],
    kept: tuple[bool, bool],
) -> None:
    upstream.answers.append(
        completion(None, (ids[0], "get_weather", '{"city":"Rome"}'), (ids[1], "get_time", "{}"))
    )

    got = [call_id for call_id, _, _ in calls_of(run(client, thread, assistant))]

    assert len(set(got)) == 2
    for call_id, given, keep in zip(got, ids, kept, strict=True):
        assert (call_id == given) is keep
        assert keep or call_id.startswith("call_")


def test_an_upstream_id_reused_in_a_later_turn_is_replaced(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers += [
        completion(None, ("call_0", "get_time", "{}")),
        completion(None, ("call_0", "get_time", "{}")),
    ]

    again = answer_calls(client, run(client, thread, assistant), "noon")

    ((call_id, name, _),) = calls_of(again)
    assert name == "get_time" and call_id not in ("call_0", "")


@pytest.mark.parametrize(
    ("tool_choice", "tools", "sent"),
    [
        ("auto", [WEATHER, TIME], None),
        ("none", [WEATHER, TIME], "none"),
        ("required", [WEATHER, TIME], "required"),
        ("required", [WEATHER], {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            [WEATHER, TIME],
            {"type": "function", "function": {"name": "get_time"}},
        ),
    ],
)
def test_every_tool_choice_form_is_mapped(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    tool_choice: Any,
    tools: list[dict[str, Any]],
    sent: Any,
) -> None:
    run(client, thread, assistant, tool_choice=tool_choice, tools=tools)

    body = upstream.bodies[0]
    assert body.get("tool_choice") == sent
    assert ("tool_choice" in body) is (sent is not None)


@pytest.mark.parametrize(
    "tool_choice", [{"type": "function", "function": {"name": "get_time"}}, "required"]
)
def test_a_forced_tool_choice_applies_only_to_the_turn_before_the_outputs(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    tool_choice: Any,
) -> None:
    upstream.answers.append(completion(None, ("call_1", "get_time", "{}")))

    done = answer_calls(client, run(client, thread, assistant, tool_choice=tool_choice), "noon")

    assert done.status == "completed"
    before, after = upstream.bodies
    assert before["tool_choice"] == tool_choice
    assert "tool_choice" not in after and after["tools"] == [SENT_WEATHER, SENT_TIME]


def test_tools_other_than_functions_are_not_sent(
    client: openai.OpenAI, upstream: FakeUpstream, thread: Thread
) -> None:
    searcher = client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}, {"type": "file_search"}]
    )

    run(client, thread, searcher, tool_choice={"type": "file_search"})

    assert set(upstream.bodies[0]) == {"model", "messages", "temperature", "top_p", "seed"}


@pytest.mark.parametrize(
    ("response_format", "sent"),
    [
        ("auto", None),
        ({"type": "text"}, None),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "weather",
                    "schema": {"type": "object", "properties": {"sky": {"type": "string"}}},
                    "strict": True,
                },
            },
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "weather",
                    "schema": {"type": "object", "properties": {"sky": {"type": "string"}}},
                    "strict": True,
                },
            },
        ),
    ],
)
def test_response_format_is_sent_only_for_json(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    response_format: Any,
    sent: Any,
) -> None:
    upstream.answers.append(completion('{"sky": "blue"}'))

    run(client, thread, assistant, response_format=response_format)

    assert upstream.bodies[0].get("response_format") == sent


def test_sampling_limits_and_parallel_calls_are_passed_on(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    run(
        client,
        thread,
        assistant,
        temperature=0.2,
        top_p=0.5,
        max_completion_tokens=300,
        parallel_tool_calls=False,
    )

    body = upstream.bodies[0]
    assert (body["temperature"], body["top_p"]) == (0.2, 0.5)
    assert body["max_tokens"] == 300 and "max_completion_tokens" not in body
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("model", "run_model", "sent"),
    [
        (None, "gpt-4o", "gpt-4o"),
        ("smollm2", "gpt-4o", "smollm2"),
        ({"gpt-4o": "qwen2.5:7b"}, "gpt-4o", "qwen2.5:7b"),
        ({"gpt-4o": "qwen2.5:7b"}, "gpt-4o-mini", "gpt-4o-mini"),
    ],
)
def test_the_model_is_the_runs_or_mapped(
    client: openai.OpenAI,
    emu: Emulator,
    assistant: Assistant,
    thread: Thread,
    model: Any,
    run_model: str,
    sent: str,
) -> None:
    fake = FakeUpstream()
    emu.respond_with(forward(URL, model=model, transport=fake.transport))

    run(client, thread, assistant, model=run_model)

    assert fake.bodies[0]["model"] == sent


def test_the_seed_depends_on_the_forward_seed_and_the_run_or_is_left_out(
    client: openai.OpenAI, emu: Emulator, assistant: Assistant
) -> None:
    seeds = []
    for seed in (0, 0, 7, None):
        fake = FakeUpstream()
        emu.respond_with(forward(URL, seed=seed, transport=fake.transport))
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        done = run(client, thread, assistant)
        seeds.append(fake.bodies[0].get("seed"))
        if seed is not None:
            assert seeds[-1] == turn_seed(seed, done.id, 0)
    assert seeds[0] != seeds[1] != seeds[2] and seeds[3] is None
    assert turn_seed(0, "run_abc", 0) == turn_seed(0, "run_abc", 0) < 2**31


# --- what comes back -----------------------------------------------------------------------


def test_finish_reason_length_ends_the_run_incomplete_with_the_text_so_far(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers.append(completion("The weather in Paris is", finish_reason="length"))

    done = run(client, thread, assistant)

    assert done.status == "incomplete"
    assert done.incomplete_details is not None
    assert done.incomplete_details.reason == "max_completion_tokens"
    message = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    assert message.status == "incomplete"
    assert last_text(client, thread) == "The weather in Paris is"


def test_tool_calls_cut_by_length_are_not_made(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers.append(completion(None, ("c1", "get_weather", '{"ci'), finish_reason="length"))

    done = run(client, thread, assistant)

    assert done.status == "incomplete" and done.required_action is None


def test_without_parallel_tool_calls_only_the_first_call_is_made(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    upstream.answers.append(
        completion(None, ("c1", "get_time", "{}"), ("c2", "get_weather", '{"city":"Oslo"}'))
    )

    waiting = run(client, thread, assistant, parallel_tool_calls=False)

    assert calls_of(waiting) == [("c1", "get_time", "{}")]


@pytest.mark.parametrize(
    ("fields", "call", "problem"),
    [
        ({}, "get_stock_price", "called function 'get_stock_price', which is not among"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            "get_weather",
            "called 'get_weather' although tool_choice forces 'get_time'",
        ),
    ],
)
def test_a_call_the_run_cannot_take_fails_the_run_naming_the_upstream(
    client: openai.OpenAI,
    emu: Emulator,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    fields: dict[str, Any],
    call: str,
    problem: str,
) -> None:
    upstream.answers.append(completion(None, ("c1", call, "{}")))

    done = run(client, thread, assistant, **fields)

    assert done.status == "failed" and done.last_error is not None
    assert done.last_error.code == "server_error"
    assert done.last_error.message.startswith(f"The model at {COMPLETIONS} {problem}")
    assert emu.responder_errors == []


def test_content_parts_and_object_arguments_are_read(
    client: openai.OpenAI, upstream: FakeUpstream, assistant: Assistant, thread: Thread
) -> None:
    parts = completion()
    parts["choices"][0]["message"]["content"] = [{"type": "text", "text": "Hi "}, {"text": "you"}]
    upstream.answers.append(parts)
    asks = completion(None, ("c1", "get_weather", ""))
    asks["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = {"city": "Oslo"}
    upstream.answers.append(asks)

    run(client, thread, assistant)
    assert last_text(client, thread) == "Hi you"
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="And Oslo?")
    assert calls_of(run(client, thread, assistant)) == [("c1", "get_weather", '{"city":"Oslo"}')]


# --- failures ------------------------------------------------------------------------------


def error_body(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "code": None}}


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (
            httpx.Response(429, json=error_body("Too many requests")),
            "rate_limit_exceeded",
            f"The model server at {COMPLETIONS} is rate limiting requests (HTTP 429): "
            "Too many requests",
        ),
        (
            httpx.Response(500, json=error_body("llama_decode failed")),
            "server_error",
            f"The model server at {COMPLETIONS} answered HTTP 500: llama_decode failed",
        ),
        (
            httpx.Response(503, text="Service Unavailable"),
            "server_error",
            f"The model server at {COMPLETIONS} answered HTTP 503: Service Unavailable",
        ),
        (
            httpx.Response(404, json={"detail": "model 'gpt-4o' not found"}),
            "server_error",
            f"The model server at {COMPLETIONS} answered HTTP 404: model 'gpt-4o' not found",
        ),
        (
            httpx.ReadTimeout("timed out"),
            "server_error",
            f"The model server at {COMPLETIONS} did not answer within 600 s.",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "server_error",
            f"The connection to the model server at {COMPLETIONS} failed: "
            "Server disconnected without sending a response.",
        ),
        (
            httpx.Response(200, text="<html>proxy error</html>"),
            "server_error",
            f"The model server at {COMPLETIONS} answered with malformed JSON: "
            "'<html>proxy error</html>'",
        ),
        (
            httpx.Response(200, json={"object": "chat.completion", "choices": []}),
            "server_error",
            f"The model server at {COMPLETIONS} answered with a malformed completion: no choices.",
        ),
        (
            RuntimeError("boom"),
            "server_error",
            f"Forwarding to {COMPLETIONS} failed: RuntimeError: boom",
        ),
    ],
    ids=["429", "500", "503", "404", "timeout", "dropped", "not-json", "no-choices", "bug"],
)
def test_upstream_failures_fail_the_run_and_never_raise(
    client: openai.OpenAI,
    emu: Emulator,
    upstream: FakeUpstream,
    assistant: Assistant,
    thread: Thread,
    answer: Answer,
    code: str,
    message: str,
) -> None:
    upstream.answers.append(answer)

    done = run(client, thread, assistant)

    assert done.status == "failed" and done.last_error is not None
    assert (done.last_error.code, done.last_error.message) == (code, message)
    assert emu.responder_errors == []
    assert emu.steps(done.id) == [] and done.usage is not None
    assert done.usage.total_tokens == 0


def test_a_refused_connection_fails_the_run_naming_the_upstream(
    client: openai.OpenAI, emu: Emulator, assistant: Assistant, thread: Thread
) -> None:
    with socket.socket() as free:  # a loopback port nobody listens on once closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    emu.respond_with(forward(f"http://127.0.0.1:{port}/v1"))

    done = run(client, thread, assistant)

    assert done.status == "failed" and done.last_error is not None
    assert done.last_error.code == "server_error"
    assert done.last_error.message.startswith(
        f"Could not connect to the model server at http://127.0.0.1:{port}/v1/chat/completions"
    )


def test_the_api_key_is_sent_but_never_shown(
    client: openai.OpenAI,
    emu: Emulator,
    assistant: Assistant,
    thread: Thread,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-local-secret-1234"
    fake = FakeUpstream()
    fake.answers.append(httpx.Response(401, json=error_body(f"Incorrect API key provided: {key}.")))
    responder = forward(
        f"http://user:{key}@127.0.0.1:8080/v1", api_key=key, transport=fake.transport
    )
    emu.respond_with(responder)

    with caplog.at_level(logging.DEBUG):
        done = run(client, thread, assistant)

    assert fake.requests[0].headers["authorization"] == f"Bearer {key}"
    assert done.last_error is not None
    assert done.last_error.message == (
        f"The model server at {COMPLETIONS} answered HTTP 401: Incorrect API key provided: ***."
    )
    shown = [repr(responder), repr(responder.upstream), caplog.text, json.dumps(emu.snapshot())]
    assert caplog.text and not any(key in text for text in shown)


@pytest.mark.parametrize("key", ["sk-from-env", None])
def test_the_cli_responder_reads_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    if key is None:
        monkeypatch.delenv("EMULATOR_FORWARD_API_KEY", raising=False)
    else:
        monkeypatch.setenv("EMULATOR_FORWARD_API_KEY", key)

    responder = responder_from_cli("http://127.0.0.1:8080/v1", "smollm2")

    assert responder.model == "smollm2"
    assert responder.upstream._headers.get("authorization") == (key and f"Bearer {key}")


# --- streaming from the upstream -----------------------------------------------------------


def sse(*chunks: dict[str, Any]) -> httpx.Response:
    """A `stream: true` answer: one `data:` line per chunk, then `[DONE]`."""
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(lines).encode()
    )


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


@pytest.fixture
def context(
    request: pytest.FixtureRequest,
    client: openai.OpenAI,
    emu: Emulator,
    assistant: Assistant,
    thread: Thread,
) -> RunContext:
    """The RunContext of a real first turn, as a responder receives it (the parameter, if any:
    parallel_tool_calls)."""
    seen: list[RunContext] = []
    emu.respond_with(lambda context: seen.append(context) or reply.text("ok"))
    parallel = getattr(request, "param", True)
    run(client, thread, assistant, tool_choice="required", parallel_tool_calls=parallel)
    return seen[0]


def test_stream_yields_text_deltas_and_then_the_reply(context: RunContext) -> None:
    fake = FakeUpstream()
    fake.answers.append(
        sse(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Sunny"}),
            chunk({"content": " in Paris."}),
            chunk({}, "stop"),
            {"object": "chat.completion.chunk", "choices": [], "usage": {"total_tokens": 9}},
        )
    )
    turn = forward(URL, transport=fake.transport).stream(context)

    assert list(turn) == [TextDelta("Sunny"), TextDelta(" in Paris.")]
    assert turn.reply == reply.text("Sunny in Paris.")
    assert fake.bodies[0]["stream"] is True
    assert fake.bodies[0]["tool_choice"] == "required"


@pytest.mark.parametrize("context", [True, False], indirect=True, ids=["parallel", "single"])
def test_stream_yields_tool_call_argument_deltas_with_their_final_ids(context: RunContext) -> None:
    fake = FakeUpstream()

    def call(index: int, name: str, arguments: str) -> dict[str, Any]:
        """As llama.cpp streams calls: id and name repeated in every chunk."""
        function = {"name": name, "arguments": arguments}
        return {"tool_calls": [{"index": index, "id": "call_s", "function": function}]}

    fake.answers.append(
        sse(
            chunk(call(0, "get_weather", "")),
            chunk(call(0, "get_weather", '{"city":')),
            chunk(call(0, "get_weather", '"Paris"}')),
            chunk(call(1, "get_time", "{}"), "tool_calls"),
        )
    )
    turn = forward(URL, transport=fake.transport).stream(context)

    weather = [
        CallDelta(0, "call_s", "get_weather", ""),
        CallDelta(0, None, None, '{"city":'),
        CallDelta(0, None, None, '"Paris"}'),
    ]
    made = reply.call("get_weather", '{"city":"Paris"}', id="call_s")
    if context.run["parallel_tool_calls"]:
        # the same id again: the engine draws a fresh one
        assert list(turn) == [*weather, CallDelta(1, None, "get_time", "{}")]
        assert turn.reply == reply.tool_calls(made, reply.call("get_time", "{}"))
    else:
        assert list(turn) == weather
        assert turn.reply == reply.tool_calls(made)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            httpx.Response(500, text="oops"),
            f"The model server at {COMPLETIONS} answered HTTP 500: oops",
        ),
        (
            sse(chunk({"content": "Hal"}), {"error": {"message": "context overflow"}}),
            f"The model server at {COMPLETIONS} reported an error while streaming: "
            "context overflow",
        ),
    ],
)
def test_a_failing_stream_ends_with_a_failure_reply(
    context: RunContext, answer: httpx.Response, message: str
) -> None:
    fake = FakeUpstream()
    fake.answers.append(answer)
    turn = forward(URL, transport=fake.transport).stream(context)

    list(turn)

    assert turn.reply == reply.fail("server_error", message)


def test_finish_is_what_the_stream_reports_last() -> None:
    from emulator.engine.upstream import assemble

    got = assemble([TextDelta("a"), TextDelta("b"), Finish("length")])

    assert (got.text, got.calls, got.finish_reason) == ("ab", (), "length")


# --- the emulator never intercepts the upstream --------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.bodies.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        answer = json.dumps(completion("Hello from the loopback model.")).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[ThreadingHTTPServer]:
    """A Chat Completions server on a free loopback port, recording `(path, body)`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_forwarded_turn_reaches_the_upstream_even_at_an_emulated_base_url(
    loopback: ThreadingHTTPServer, mode: str
) -> None:
    import asyncio

    upstream_url = f"http://127.0.0.1:{loopback.server_address[1]}/v1"
    with Emulator(base_urls=[upstream_url, "https://api.openai.com/v1"]) as emu:
        emu.respond_with(forward(upstream_url))
        if mode == "sync":
            client = openai.OpenAI(api_key="sk-test", base_url=upstream_url)
            asst = client.beta.assistants.create(model="gpt-4o")
            done = client.beta.threads.create_and_run_poll(
                assistant_id=asst.id,
                thread={"messages": [{"role": "user", "content": "Hi"}]},
            )
        else:

            async def main() -> Run:
                client = openai.AsyncOpenAI(api_key="sk-test", base_url=upstream_url)
                asst = await client.beta.assistants.create(model="gpt-4o")
                return await client.beta.threads.create_and_run_poll(
                    assistant_id=asst.id,
                    thread={"messages": [{"role": "user", "content": "Hi"}]},
                )

            done = asyncio.run(main())

    assert done.status == "completed"
    assert loopback.bodies == [  # type: ignore[attr-defined]
        (
            "/v1/chat/completions",
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 1.0,
                "top_p": 1.0,
                "seed": turn_seed(0, done.id, 0),
            },
        )
    ]


# --- file_search -----------------------------------------------------------------------------

FOODS = "Filip's favorite food is cake. Anna likes soup."
DRINKS = "Filip's favorite drink is tea; his food comes with it."
QUESTION = "What is Filip's favorite food?"
FOUND = f'A search of the files for "{QUESTION}" found these excerpts, best first.'
CITE = "When you use one, cite it by its number in square brackets, like [0]."
MARKER = "【4:0†foods.txt】"


@pytest.fixture
def foods(client: openai.OpenAI) -> str:
    """A vector store holding foods.txt (and cars.txt, which no question here matches)."""
    files = [
        client.files.create(file=(name, text.encode()), purpose="assistants").id
        for name, text in [("foods.txt", FOODS), ("cars.txt", "Cars have wheels.")]
    ]
    return client.vector_stores.create(name="foods", file_ids=files).id


def librarian(client: openai.OpenAI, store: str, *tools: dict[str, Any]) -> Assistant:
    return client.beta.assistants.create(
        model="gpt-4o",
        instructions="Answer briefly.",
        tools=[{"type": "file_search"}, *tools],  # type: ignore[list-item]
        tool_resources={"file_search": {"vector_store_ids": [store]}},
    )


def ask(client: openai.OpenAI, assistant: Assistant, **fields: Any) -> Run:
    return client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": QUESTION}]},
        **fields,
    )


def file_id(client: openai.OpenAI, store: str, name: str) -> str:
    ids = [f.id for f in client.vector_stores.files.list(vector_store_id=store)]
    return next(i for i in ids if client.files.retrieve(i).filename == name)


def test_file_search_searches_first_then_gives_the_model_the_excerpts_and_maps_its_citation(
    client: openai.OpenAI, upstream: FakeUpstream, foods: str
) -> None:
    upstream.answers = [completion("Filip likes cake [0].")]

    done = ask(client, librarian(client, foods))

    assert done.status == "completed", done.last_error
    search, answer = client.beta.threads.runs.steps.list(
        run_id=done.id, thread_id=done.thread_id, order="asc"
    ).data
    (call,) = search.step_details.tool_calls  # type: ignore[union-attr]
    assert call.type == "file_search"
    assert [r.file_name for r in call.file_search.results] == ["foods.txt"]  # type: ignore[union-attr]
    assert answer.type == "message_creation"
    assert upstream.bodies == [  # the searching turn asked no model: one request, the answer's
        {
            "model": "gpt-4o",
            "messages": [
                {
                    "role": "system",
                    "content": f"Answer briefly.\n\n{FOUND} {CITE}\n\n[0] foods.txt\n{FOODS}",
                },
                {"role": "user", "content": QUESTION},
            ],
            "temperature": 1.0,
            "top_p": 1.0,
            "seed": turn_seed(0, done.id, 1),
        }
    ]
    message = client.beta.threads.messages.list(thread_id=done.thread_id, limit=1).data[0]
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.value == f"Filip likes cake {MARKER}."
    start = len("Filip likes cake ")
    assert [a.model_dump() for a in text.annotations] == [
        {
            "type": "file_citation",
            "text": MARKER,
            "start_index": start,
            "end_index": start + len(MARKER),
            "file_citation": {"file_id": file_id(client, foods, "foods.txt")},
        }
    ]


@pytest.mark.parametrize(
    ("written", "value", "cited"),
    [
        ("Cake [0].", f"Cake {MARKER}.", True),
        ("Cake 【0†source】.", f"Cake {MARKER}.", True),
        ("Cake 【4:0†foods.txt】.", f"Cake {MARKER}.", True),
        ("Cake 【0】.", f"Cake {MARKER}.", True),
        ("Cake [1].", "Cake [1].", False),  # only one result: an unknown number stays text
        ("Cake [0, 1] 【x】 [a].", "Cake [0, 1] 【x】 [a].", False),
    ],
)
def test_citation_forms_the_model_may_write(
    client: openai.OpenAI,
    upstream: FakeUpstream,
    foods: str,
    written: str,
    value: str,
    cited: bool,
) -> None:
    upstream.answers = [completion(written)]

    done = ask(client, librarian(client, foods))

    message = client.beta.threads.messages.list(thread_id=done.thread_id, limit=1).data[0]
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.value == value
    assert [(a.start_index, a.end_index) for a in text.annotations] == (
        [(5, 5 + len(MARKER))] if cited else []
    )


def test_excerpts_are_numbered_best_first_and_cut_to_the_token_budget(
    client: openai.OpenAI, emu: Emulator, foods: str
) -> None:
    drinks = client.files.create(file=("drinks.txt", DRINKS.encode()), purpose="assistants")
    client.vector_stores.files.create(vector_store_id=foods, file_id=drinks.id)
    count = counter_for_encoding("cl100k_base").count
    fake = FakeUpstream()
    fake.answers = [completion("Cake [0], tea [1].")]
    emu.respond_with(forward(URL, transport=fake.transport, file_search_tokens=count(FOODS) + 3))

    done = ask(client, librarian(client, foods))

    system = fake.bodies[0]["messages"][0]["content"]
    cut = counter_for_encoding("cl100k_base").truncate(DRINKS, 3)
    assert system.endswith(f"\n\n[0] foods.txt\n{FOODS}\n\n[1] drinks.txt\n{cut}")
    text = client.beta.threads.messages.list(thread_id=done.thread_id, limit=1).data[0]
    value = text.content[0].text.value  # type: ignore[union-attr]
    assert value == f"Cake {MARKER}, tea 【4:1†drinks.txt】."


def test_a_search_that_finds_nothing_says_so(
    client: openai.OpenAI, upstream: FakeUpstream, foods: str
) -> None:
    done = client.beta.threads.create_and_run_poll(
        assistant_id=librarian(client, foods).id,
        thread={"messages": [{"role": "user", "content": "Tell me about trains"}]},
    )

    assert done.status == "completed"
    assert upstream.bodies[0]["messages"][0] == {
        "role": "system",
        "content": 'Answer briefly.\n\nA search of the files for "Tell me about trains" '
        "found nothing.",
    }


@pytest.mark.parametrize(
    "case", ["tool_choice none", "no files", "no file_search tool", "forced function"]
)
def test_no_search_is_made_when_the_turn_may_not_or_cannot_search(
    client: openai.OpenAI, upstream: FakeUpstream, foods: str, case: str
) -> None:
    store = client.vector_stores.create().id if case == "no files" else foods
    assistant = librarian(client, store, WEATHER)
    fields: dict[str, Any] = {}
    if case == "tool_choice none":
        fields["tool_choice"] = "none"
    elif case == "no file_search tool":
        fields["tools"] = [WEATHER]
    elif case == "forced function":
        fields["tool_choice"] = {"type": "function", "function": {"name": "get_weather"}}
        upstream.answers = [completion(None, ("call_w", "get_weather", '{"city":"Paris"}'))]

    first = ask(client, assistant, **fields)

    (body,) = upstream.bodies
    assert body["messages"][0] == {"role": "system", "content": "Answer briefly."}
    steps = client.beta.threads.runs.steps.list(run_id=first.id, thread_id=first.thread_id)
    assert all(
        c.type == "function"
        for s in steps.data
        if s.type == "tool_calls"
        for c in s.step_details.tool_calls  # type: ignore[union-attr]
    )
    if case == "forced function":  # the force is spent: the turn after the outputs searches
        done = answer_calls(client, first, "18 C")
        assert done.status == "completed"
        after = upstream.bodies[1]
        assert after["messages"][0]["content"].startswith(f"Answer briefly.\n\n{FOUND}")
        assert "tool_choice" not in after


def test_a_required_tool_choice_is_met_by_the_search(
    client: openai.OpenAI, upstream: FakeUpstream, foods: str
) -> None:
    done = ask(client, librarian(client, foods, WEATHER), tool_choice="required")

    assert done.status == "completed"
    (body,) = upstream.bodies
    assert "tool_choice" not in body and body["tools"] == [SENT_WEATHER]


def test_a_streamed_file_search_run_sends_the_real_marker_with_its_annotation(
    client: openai.OpenAI, upstream: FakeUpstream, foods: str
) -> None:
    pieces = ["Filip likes cake [", "0", "]", " and 【", "1】."]  # a marker cut across chunks
    upstream.answers = [sse(*(chunk({"content": p}) for p in pieces), chunk({}, "stop"))]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])

    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=librarian(client, foods).id
    ) as stream:
        events = list(stream)
        final = stream.get_final_messages()

    assert upstream.bodies[0]["stream"] is True and len(upstream.bodies) == 1
    assert [e.event for e in events if e.event.startswith("thread.run.step.c")] == [
        "thread.run.step.created",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.run.step.completed",
    ]
    deltas = [
        e.data.delta.content[0].text  # type: ignore[union-attr]
        for e in events
        if e.event == "thread.message.delta"
    ]
    # a possible marker is held back until it is whole; an unknown one is then sent as text
    assert [d.value for d in deltas] == ["Filip likes cake ", MARKER, " and ", "【1】."]
    assert [[a.index for a in d.annotations or []] for d in deltas] == [[], [0], [], []]
    assert deltas[1].annotations[0].file_citation.quote == ""  # type: ignore[index,union-attr]
    stored = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    text = stored.content[0].text  # type: ignore[union-attr]
    assert text.value == f"Filip likes cake {MARKER} and 【1】."
    start = len("Filip likes cake ")
    assert [(a.text, a.start_index, a.end_index) for a in text.annotations] == [
        (MARKER, start, start + len(MARKER))
    ]
    assert final[0].content == stored.content
