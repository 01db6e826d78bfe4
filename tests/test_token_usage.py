"""Exact token usage through the SDK: the prompt formula per model and encoding, usage of runs
and run steps, token budgets across a run, both `incomplete` endings, limits below their
minimums, and no network on the way."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from conftest import WordCounter
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from emulator import Emulator, ModelInfo, reply
from emulator.engine.tokens import counter_for_encoding, load_encoding

Raw = dict[str, Any]
RUSSIAN = "Привет, как дела? Всё хорошо."  # 17 tokens in cl100k_base, 9 in o200k_base
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Погода в городе",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
LONG_REPLY = " ".join(f"word{i}" for i in range(400))  # well over 256 tokens


def n(encoding: str, text: str) -> int:
    """Tokens of ``text`` in the bundled tiktoken encoding."""
    return len(load_encoding(encoding).encode_ordinary(text))


def first_tokens(encoding: str, text: str, count: int) -> str:
    """The text of the first ``count`` tokens of ``text``."""
    enc = load_encoding(encoding)
    return enc.decode(enc.encode_ordinary(text)[:count])


def prompt_tokens(
    encoding: str, *, instructions: str, tools: list[Raw], messages: list[tuple[str, str]]
) -> int:
    """The documented formula (emulator.tokens), written out independently."""
    system = 3 + n(encoding, "system") + n(encoding, instructions) if instructions else 0
    compact = [json.dumps(t, separators=(",", ":"), sort_keys=True) for t in tools]
    return (
        system
        + sum(n(encoding, tool) for tool in compact)
        + sum(3 + n(encoding, role) + n(encoding, text) for role, text in messages)
        + 3
    )


def raw_run(client: openai.OpenAI, run: Run) -> Raw:
    response = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=run.thread_id)
    data: Raw = response.http_response.json()
    Run.model_validate(data)
    return data


def raw_steps(client: openai.OpenAI, run: Run) -> list[Raw]:
    """The run's steps, oldest first, each validated with the SDK's RunStep."""
    response = client.beta.threads.runs.steps.with_raw_response.list(
        run.id, thread_id=run.thread_id, order="asc"
    )
    steps: list[Raw] = response.http_response.json()["data"]
    for step in steps:
        RunStep.model_validate(step)
    return steps


def raw_messages(client: openai.OpenAI, run: Run) -> list[Raw]:
    response = client.beta.threads.messages.with_raw_response.list(
        thread_id=run.thread_id, run_id=run.id, order="asc"
    )
    messages: list[Raw] = response.http_response.json()["data"]
    for message in messages:
        Message.model_validate(message)
    return messages


def usage(run_or_step: Run | Raw) -> tuple[int, int, int]:
    found = run_or_step.usage if isinstance(run_or_step, Run) else run_or_step["usage"]
    assert found is not None
    if isinstance(found, dict):
        return found["prompt_tokens"], found["completion_tokens"], found["total_tokens"]
    return found.prompt_tokens, found.completion_tokens, found.total_tokens


@pytest.fixture
def weather_run(emu: Emulator, client: openai.OpenAI) -> Callable[..., tuple[Run, Run]]:
    """Run the weather tool loop; returns the run at requires_action and at its end."""

    def start(text: str = "It is 18 C in Paris.", **run_options: Any) -> tuple[Run, Run]:
        emu.script(reply.tool_call("get_weather", {"city": "Paris"}), reply.text(text))
        asst = client.beta.assistants.create(
            model="gpt-4o", instructions="Be brief.", tools=[WEATHER_TOOL]
        )
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
        waiting = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=asst.id, **run_options
        )
        assert waiting.required_action is not None
        call = waiting.required_action.submit_tool_outputs.tool_calls[0]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=waiting.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "18 C"}],
        )
        return waiting, done

    return start


# --- the formula, per model and encoding -----------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_usage_of_a_known_prompt(emu: Emulator, client: openai.OpenAI, model: str) -> None:
    emu.script("hello world")
    asst = client.beta.assistants.create(model=model)
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id, thread={"messages": [{"role": "user", "content": "hello world"}]}
    )
    # 3 per message + "user" (1) + "hello world" (2), then 3 to prime the reply.
    assert usage(run) == (9, 2, 11)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("my-fine-tune", "o200k_base"),  # unknown models get DEFAULT_MODEL: o200k_base
    ],
)
def test_usage_equals_the_formula_in_the_models_encoding(
    emu: Emulator, client: openai.OpenAI, model: str, encoding: str
) -> None:
    emu.script(RUSSIAN)
    asst = client.beta.assistants.create(model=model, instructions=RUSSIAN, tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": RUSSIAN},
            {"role": "assistant", "content": "Das Wetter in München ist heute sonnig."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "日本語"},
                    {"type": "text", "text": "のテキストです"},
                ],
            },
        ]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    thread_messages = [
        ("user", RUSSIAN),
        ("assistant", "Das Wetter in München ist heute sonnig."),
        ("user", "日本語\nのテキストです"),
    ]
    tools = raw_run(client, run)["tools"]

    def expected(enc: str) -> tuple[int, int, int]:
        prompt = prompt_tokens(enc, instructions=RUSSIAN, tools=tools, messages=thread_messages)
        return prompt, n(enc, RUSSIAN), prompt + n(enc, RUSSIAN)

    other = "cl100k_base" if encoding == "o200k_base" else "o200k_base"
    assert usage(run) == expected(encoding)
    assert usage(run) != expected(other)
    (step,) = raw_steps(client, run)
    assert usage(step) == usage(run)


@pytest.mark.parametrize(
    ("assistant_instructions", "run_options", "seen"),
    [
        ("Be brief.", {}, "Be brief."),
        ("Be brief.", {"instructions": "Answer in French."}, "Answer in French."),
        ("Be brief.", {"additional_instructions": "Say hi."}, "Be brief.\n\nSay hi."),
        (
            "Be brief.",
            {"instructions": "Answer in French.", "additional_instructions": "Say hi."},
            "Answer in French.\n\nSay hi.",
        ),
        (None, {"additional_instructions": "Say hi."}, "Say hi."),
        (None, {}, ""),
    ],
)
def test_the_runs_instructions_count_once(
    emu: Emulator,
    client: openai.OpenAI,
    assistant_instructions: str | None,
    run_options: Raw,
    seen: str,
) -> None:
    emu.script("ok")
    asst = client.beta.assistants.create(model="gpt-4o", instructions=assistant_instructions)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello world"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, **run_options
    )
    assert run.instructions == seen
    assert run.usage is not None
    assert run.usage.prompt_tokens == prompt_tokens(
        "o200k_base", instructions=seen, tools=[], messages=[("user", "hello world")]
    )


def test_run_tools_override_the_assistants_in_the_count(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.script("ok")
    asst = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=asst.id,
        tools=[WEATHER_TOOL, {"type": "function", "function": {"name": "get_time"}}],
    )
    tools = raw_run(client, run)["tools"]
    assert [t["function"]["name"] for t in tools] == ["get_weather", "get_time"]
    assert run.usage is not None
    assert run.usage.prompt_tokens == prompt_tokens(
        "o200k_base", instructions="", tools=tools, messages=[("user", "hi")]
    )


# --- usage of steps and runs -----------------------------------------------------------------


def test_step_usage_is_each_turns_and_the_run_sums_them(
    emu: Emulator, client: openai.OpenAI, weather_run: Callable[..., tuple[Run, Run]]
) -> None:
    waiting, done = weather_run()
    assert waiting.usage is None  # not terminal yet
    tools = raw_run(client, done)["tools"]
    first = prompt_tokens(
        "o200k_base", instructions="Be brief.", tools=tools, messages=[("user", "Weather?")]
    )
    exchange = ("tool", 'get_weather({"city":"Paris"}) -> 18 C')
    second = prompt_tokens(
        "o200k_base",
        instructions="Be brief.",
        tools=tools,
        messages=[("user", "Weather?"), exchange],
    )
    call_tokens = n("o200k_base", "get_weather") + n("o200k_base", '{"city":"Paris"}')
    text_tokens = n("o200k_base", "It is 18 C in Paris.")

    steps = raw_steps(client, done)
    assert [s["type"] for s in steps] == ["tool_calls", "message_creation"]
    assert [usage(s) for s in steps] == [
        (first, call_tokens, first + call_tokens),
        (second, text_tokens, second + text_tokens),
    ]
    reports = emu.truncation(done.id)
    assert [r.prompt_tokens for r in reports] == [first, second]
    call_id = steps[0]["step_details"]["tool_calls"][0]["id"]
    assert reports[1].account(call_id).text == exchange[1]
    assert usage(done) == tuple(map(sum, zip(*(usage(s) for s in steps), strict=True)))


def test_budgets_span_the_whole_run(
    emu: Emulator, client: openai.OpenAI, weather_run: Callable[..., tuple[Run, Run]]
) -> None:
    _, done = weather_run(LONG_REPLY, max_prompt_tokens=1000, max_completion_tokens=300)
    first, second = emu.truncation(done.id)
    assert (first.budget, second.budget) == (1000, 1000 - first.prompt_tokens)

    call_step, message_step = raw_steps(client, done)
    spent = call_step["usage"]["completion_tokens"]
    left = 300 - spent
    assert message_step["usage"]["completion_tokens"] == left  # the second turn got what was left
    (message,) = raw_messages(client, done)
    assert message["content"][0]["text"]["value"] == first_tokens("o200k_base", LONG_REPLY, left)
    assert (message["status"], message["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_tokens"},
    )
    assert done.status == "incomplete"
    assert done.incomplete_details is not None
    assert done.incomplete_details.reason == "max_completion_tokens"
    assert usage(done)[1] == 300


# --- limits end runs like the real service ---------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_reply_over_max_completion_tokens_leaves_an_incomplete_message(
    emu: Emulator, client: openai.OpenAI, stream: bool
) -> None:
    emu.script(LONG_REPLY)
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Talk."}])
    kept = first_tokens("o200k_base", LONG_REPLY, 256)
    if stream:
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=asst.id, max_completion_tokens=256
        ) as events:
            seen = list(events)
        names = [e.event for e in seen if e.event != "thread.message.delta"]
        assert names[-3:] == [
            "thread.message.incomplete",
            "thread.run.step.completed",
            "thread.run.incomplete",
        ]
        data: list[Any] = [e.data for e in seen]
        deltas = [d.delta.content[0].text.value for d in data if d.object == "thread.message.delta"]
        assert "".join(deltas) == kept
        (incomplete,) = [e.data for e in seen if e.event == "thread.message.incomplete"]
        event = Message.model_validate(incomplete.model_dump())
        assert event.incomplete_details is not None
        assert (event.status, event.incomplete_details.reason) == ("incomplete", "max_tokens")
        run = client.beta.threads.runs.retrieve(data[0].id, thread_id=thread.id)
    else:
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=asst.id, max_completion_tokens=256
        )
    raw = raw_run(client, run)
    assert (raw["status"], raw["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_completion_tokens"},
    )
    (message,) = raw_messages(client, run)
    assert message["content"][0]["text"]["value"] == kept
    assert n("o200k_base", kept) == 256
    assert (message["status"], message["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_tokens"},
    )
    assert message["incomplete_at"] is not None
    (step,) = raw_steps(client, run)
    assert usage(step)[1] == 256
    assert usage(raw) == usage(step)


def test_a_prompt_over_max_prompt_tokens_ends_incomplete(
    emu: Emulator, client: openai.OpenAI
) -> None:
    asked: list[object] = []
    emu.respond_with(lambda context: asked.append(context) or "never")
    asst = client.beta.assistants.create(model="gpt-4o", instructions=LONG_REPLY)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, max_prompt_tokens=256
    )
    raw = raw_run(client, run)
    assert (raw["status"], raw["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_prompt_tokens"},
    )
    assert usage(raw) == (0, 0, 0)
    assert asked == []  # the model never saw it
    assert raw_steps(client, run) == []
    assert raw_messages(client, run) == []
    (report,) = emu.truncation(run.id)
    assert not report.fits
    assert report.prompt_tokens > report.budget == 256


def test_a_later_turn_that_cannot_fit_ends_incomplete(emu: Emulator, client: openai.OpenAI) -> None:
    # Instructions of ~120 tokens fit once in 256, not twice.
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), reply.text("never"))
    instructions = " ".join(f"rule{i}" for i in range(60))
    asst = client.beta.assistants.create(
        model="gpt-4o", instructions=instructions, tools=[WEATHER_TOOL]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, max_prompt_tokens=256
    )
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18 C"}],
    )
    first, second = emu.truncation(run.id)
    assert second.budget == 256 - first.prompt_tokens
    assert not second.fits
    assert run.incomplete_details is not None
    assert (run.status, run.incomplete_details.reason) == ("incomplete", "max_prompt_tokens")
    (step,) = raw_steps(client, run)
    assert usage(run) == usage(step) == (first.prompt_tokens, usage(step)[1], usage(step)[2])


TOKEN_MINIMUMS = {"max_prompt_tokens": 256, "max_completion_tokens": 16}  # README decisions


@pytest.mark.parametrize(
    ("param", "value"),
    [
        *(("max_prompt_tokens", value) for value in (255, 16, 1, 0, -5)),
        *(("max_completion_tokens", value) for value in (15, 1, 0, -5)),
    ],
)
@pytest.mark.parametrize("endpoint", ["runs.create", "threads.create_and_run"])
def test_token_limits_below_their_minimum_are_a_400(
    emu: Emulator, client: openai.OpenAI, param: str, value: int, endpoint: str
) -> None:
    """256 for max_prompt_tokens [SPEC]; 16 for max_completion_tokens, as production took it
    (real-traffic.md §1.8: `max_completion_tokens: 16` gave an incomplete run, not a 400)."""
    asst = client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as caught:
        if endpoint == "runs.create":
            client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=asst.id, **{param: value}
            )
        else:
            client.beta.threads.create_and_run(assistant_id=asst.id, **{param: value})
    error = caught.value
    assert error.status_code == 400
    assert error.body == {
        "message": f"Invalid '{param}': integer below minimum value. "
        f"Expected a value >= {TOKEN_MINIMUMS[param]}, but got {value} instead.",
        "type": "invalid_request_error",
        "param": param,
        "code": "integer_below_min_value",
    }
    assert emu.runs(thread.id) == []
    assert len(emu.threads) == 1  # create_and_run made no thread either


@pytest.mark.parametrize("param", ["max_prompt_tokens", "max_completion_tokens"])
def test_the_minimum_is_accepted(emu: Emulator, client: openai.OpenAI, param: str) -> None:
    asst = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id,
        thread={"messages": [{"role": "user", "content": "hi"}]},
        **{param: TOKEN_MINIMUMS[param]},
    )
    assert (run.status, getattr(run, param)) == ("completed", TOKEN_MINIMUMS[param])


# --- models, counters, offline ---------------------------------------------------------------


def test_registered_models_set_the_budget_and_encoding(
    emu: Emulator, client: openai.OpenAI
) -> None:
    emu.register_model(ModelInfo("acme-1", 4_096, 1_024, "cl100k_base"))
    emu.register_model(ModelInfo("gpt-4o", 10_000, 2_000, "o200k_base"))
    emu.respond_with(lambda context: RUSSIAN)
    budgets = {}
    for model, options in [
        ("acme-1-2025-01-01", {}),
        ("gpt-4o", {}),
        ("gpt-4o", {"max_completion_tokens": 500}),
        ("gpt-4", {}),  # output may fill gpt-4's window: half of it is kept for the reply
        ("gpt-4", {"max_completion_tokens": 1_000}),
    ]:
        asst = client.beta.assistants.create(model=model)
        run = client.beta.threads.create_and_run_poll(
            assistant_id=asst.id,
            thread={"messages": [{"role": "user", "content": "hi"}]},
            **options,
        )
        budgets[model, options.get("max_completion_tokens")] = emu.truncation(run.id)[0].budget
        assert run.usage is not None
        encoding = "o200k_base" if model == "gpt-4o" else "cl100k_base"
        assert run.usage.completion_tokens == n(encoding, RUSSIAN)
    assert budgets == {
        ("acme-1-2025-01-01", None): 4_096 - 1_024,
        ("gpt-4o", None): 10_000 - 2_000,
        ("gpt-4o", 500): 10_000 - 500,
        ("gpt-4", None): 8_192 - 4_096,
        ("gpt-4", 1_000): 8_192 - 1_000,
    }
    assert emu.models.get("acme-1-2025-01-01").name == "acme-1"


def test_a_model_needs_a_bundled_encoding() -> None:
    with pytest.raises(ValueError, match="p50k_base"):
        ModelInfo("old", 4_096, 1_024, "p50k_base")


def test_a_plugged_in_counter_counts_every_model(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script("one two three", "one two three")
    asst = client.beta.assistants.create(model="gpt-4", instructions="Be very brief.")
    thread_body = {"messages": [{"role": "user", "content": "hello big world"}]}

    emu.use_counter(WordCounter())
    run = client.beta.threads.create_and_run_poll(assistant_id=asst.id, thread=thread_body)
    system, message = 3 + 1 + 3, 3 + 1 + 3
    assert usage(run) == (system + message + 3, 3, system + message + 3 + 3)

    emu.use_counter(None)
    run = client.beta.threads.create_and_run_poll(assistant_id=asst.id, thread=thread_body)
    assert usage(run)[0] == prompt_tokens(
        "cl100k_base",
        instructions="Be very brief.",
        tools=[],
        messages=[("user", "hello big world")],
    )


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse every socket connection and name lookup; yields the attempts."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def refused(*args: object, **kwargs: object) -> Any:
            attempts.append(name)
            raise OSError(f"network disabled in this test ({name})")

        return refused

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    yield attempts


@pytest.fixture
def cold_encodings() -> None:
    """Forget the loaded encodings, so the run under test loads them from the bundled files
    (which stay loaded for later tests: loading costs ~0.3 s each)."""
    load_encoding.cache_clear()
    counter_for_encoding.cache_clear()


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_a_whole_run_needs_no_network(
    cold_encodings: None, no_network: list[str], emu: Emulator, client: openai.OpenAI, model: str
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), reply.text(RUSSIAN))
    asst = client.beta.assistants.create(model=model, tools=[WEATHER_TOOL])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "18"}]
    )
    encoding = "o200k_base" if model == "gpt-4o" else "cl100k_base"
    assert done.status == "completed"
    assert usage(raw_steps(client, done)[-1])[1] == n(encoding, RUSSIAN)
    assert no_network == []


# --- fidelity (issue 11 points 4 and 5) -------------------------------------------------------


def test_a_runs_own_tool_output_that_cannot_fit_ends_it_incomplete(
    emu: Emulator, client: openai.OpenAI
) -> None:
    """Issue 11 point 4: the run's pending calls and outputs are not thread messages that may be
    dropped; with `max_prompt_tokens=400` a 2,000-token output ends the run `incomplete`
    (`max_prompt_tokens`, assistants-v2.md §6) instead of a turn that never saw it."""
    asked: list[int] = []

    def respond(context: Any) -> Any:
        asked.append(context.turn)
        return reply.tool_call("get_weather", {"city": "Paris"}) if context.turn == 0 else "ok"

    emu.respond_with(respond)
    asst = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id,
        thread={"messages": [{"role": "user", "content": "Weather?"}]},
        max_prompt_tokens=400,
    )
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    output = "sunny " * 2_000
    assert n("o200k_base", output) >= 2_000
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": output}],
    )
    assert run.incomplete_details is not None
    assert (run.status, run.incomplete_details.reason) == ("incomplete", "max_prompt_tokens")
    assert asked == [0]  # the model was not asked without the output
    assert call.id in emu.truncation(run.id)[1].dropped_ids


def test_usage_counts_tokens_cut_inside_a_character(emu: Emulator, client: openai.OpenAI) -> None:
    """Issue 11 point 5: "🦜" is 3 tokens in o200k_base; at `max_completion_tokens=256` the
    text keeps 85 whole parrots, but usage counts the 256 tokens generated."""
    assert n("o200k_base", "🦜") == 3
    emu.script("🦜" * 400)
    asst = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=asst.id,
        thread={"messages": [{"role": "user", "content": "Parrots!"}]},
        max_completion_tokens=256,
    )
    assert run.usage is not None
    assert (run.status, run.usage.completion_tokens) == ("incomplete", 256)
    (message,) = raw_messages(client, run)
    assert message["content"][0]["text"]["value"] == "🦜" * 85
