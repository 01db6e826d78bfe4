"""Responders decide what the assistant does: the default, scripts, rules, plain callables, per
assistant; every kind of reply; and responders that misbehave fail their run, not the emulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import answer_calls
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run

from emulator import (
    Emulator,
    ResponderError,
    Rules,
    RunContext,
    Script,
    ScriptExhausted,
    default_responder,
    reply,
)
from emulator.engine.responders import reads_only


def ask(client: openai.OpenAI, thread: Thread, asst: Assistant, **fields: Any) -> Run:
    return client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=asst.id, **fields
    )


def last_text(client: openai.OpenAI, thread: Thread) -> str:
    message = client.beta.threads.messages.list(thread_id=thread.id, limit=1).data[0]
    return message.content[0].text.value  # type: ignore[union-attr]


def call_names(run: Run) -> list[tuple[str, str]]:
    assert run.status == "requires_action" and run.required_action is not None
    return [
        (c.function.name, c.function.arguments)
        for c in run.required_action.submit_tool_outputs.tool_calls
    ]


# --- the default responder -----------------------------------------------------------------


def test_default_echoes_the_newest_user_message(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    assert ask(client, user_thread, tool_assistant).status == "completed"
    assert last_text(client, user_thread) == "You said: What is the weather in Paris?"


def test_default_says_hello_without_a_user_message(client: openai.OpenAI) -> None:
    asst = client.beta.assistants.create(model="gpt-4o", instructions="Greet the user.")
    thread = client.beta.threads.create()
    ask(client, thread, asst)
    assert last_text(client, thread) == "Hello!"


@pytest.mark.parametrize(
    ("tool_choice", "called"),
    [
        ({"type": "function", "function": {"name": "get_time"}}, "get_time"),
        ("required", "get_weather"),
    ],
)
def test_default_follows_tool_choice_then_reports_results(
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    tool_choice: Any,
    called: str,
) -> None:
    run = ask(client, user_thread, tool_assistant, tool_choice=tool_choice)
    assert call_names(run) == [(called, "{}")]
    run = answer_calls(client, run, "42")
    assert run.status == "completed"
    assert last_text(client, user_thread) == f"Tool results: {called}=42"


# --- scripts -----------------------------------------------------------------------------------


def test_a_script_answers_turns_in_order_across_runs(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    script = emu.script("One.", reply.tool_call("get_time"), "Two.", reply.text("Three."))
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "One."
    answer_calls(client, ask(client, user_thread, tool_assistant), "noon")
    assert last_text(client, user_thread) == "Two."
    assert (script.used, script.remaining) == (3, 1)
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "Three."
    assert script.remaining == 0


def test_an_exhausted_script_fails_the_run_and_says_so(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu.script("Only one.")
    ask(client, user_thread, tool_assistant)
    with caplog.at_level(logging.ERROR, logger="emulator"):
        run = ask(client, user_thread, tool_assistant)
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == "server_error"
    assert "ran out of replies" in run.last_error.message
    assert f"run {run.id} asked for one more" in run.last_error.message
    (error,) = emu.responder_errors
    assert isinstance(error, ResponderError)
    assert error.run_id == run.id
    assert isinstance(error.error, ScriptExhausted)
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert run.id in caplog.records[0].getMessage()


SCRIPT_DATA: list[Any] = [
    "Hi",
    {"text": "Plain"},
    {"text": {"value": "Cited", "annotations": [reply.file_citation("Cited", "file-1")]}},
    {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}},
    {"tool_call": {"name": "get_time", "id": "call_fixed"}},
    {"tool_calls": [{"name": "get_time"}, {"name": "get_weather", "arguments": '{"city":"Oslo"}'}]},
    {"fail": {"code": "rate_limit_exceeded", "message": "Slow down."}},
    {"fail": "invalid_prompt"},
    {"incomplete": {"reason": "max_prompt_tokens"}},
    {"incomplete": {"text": "Partial"}},
]
SCRIPT_REPLIES = [
    reply.text("Hi"),
    reply.text("Plain"),
    reply.text("Cited", annotations=[reply.file_citation("Cited", "file-1")]),
    reply.tool_call("get_weather", {"city": "Paris"}),
    reply.tool_call("get_time", id="call_fixed"),
    reply.tool_calls(reply.call("get_time"), reply.call("get_weather", {"city": "Oslo"})),
    reply.fail("rate_limit_exceeded", "Slow down."),
    reply.fail("invalid_prompt"),
    reply.incomplete("max_prompt_tokens"),
    reply.incomplete(text="Partial"),
]


@pytest.mark.parametrize(("data", "expected"), list(zip(SCRIPT_DATA, SCRIPT_REPLIES, strict=True)))
def test_replies_from_plain_data(data: Any, expected: reply.Reply) -> None:
    assert reply.from_data(data) == expected


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"text": "a", "fail": "b"}, "a string or an object with one key"),
        ({"shout": "hi"}, "unknown reply kind 'shout'"),
        ({"tool_call": {"arguments": {}}}, "malformed 'tool_call' reply"),
        ({"fail": {"code": "teapot"}}, "code is one of"),
        ({"fail": {"reason": "x"}}, "malformed 'fail' reply"),
        ({"incomplete": "max_tokens"}, "reason is one of"),
        ({"tool_calls": []}, "at least one call"),
        (42, "a string or an object with one key"),
    ],
)
def test_malformed_plain_data_is_a_clear_value_error(data: Any, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        reply.from_data(data)
    assert says in str(caught.value)


def test_scripts_from_data_and_files(tmp_path: Path) -> None:
    assert Script.from_data(SCRIPT_DATA).remaining == len(SCRIPT_DATA)
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"replies": ["a", {"tool_call": {"name": "f"}}]}))
    script = Script.from_file(path)
    assert script.remaining == 2


def test_a_json_script_drives_a_run(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.respond_with(
        Script.from_data(
            [{"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}, "Sunny."]
        )
    )
    run = ask(client, user_thread, tool_assistant)
    assert call_names(run) == [("get_weather", '{"city":"Paris"}')]
    assert answer_calls(client, run, "sun").status == "completed"
    assert last_text(client, user_thread) == "Sunny."


# --- rules ---------------------------------------------------------------------------------


def test_rules_match_the_newest_user_message(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    rules = emu.rules()
    assert isinstance(rules, Rules)
    rules.add(r"(?i)weather", then="It is sunny.").add(r"\btime\b", then=reply.text("Noon."))
    for question, answer in [
        ("What's the WEATHER?", "It is sunny."),
        ("What time is it?", "Noon."),
        ("Anything else?", "You said: Anything else?"),  # no rule: the default responder
    ]:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
        ask(client, thread, tool_assistant)
        assert last_text(client, thread) == answer


def test_rules_match_the_assistant_by_id_or_name(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    other = client.beta.assistants.create(model="gpt-4o", name="Other", instructions="x")
    rules = emu.rules()
    rules.add(assistant=tool_assistant.id, then="By id.")
    rules.add(assistant="Other", then="By name.")
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "By id."
    ask(client, user_thread, other)
    assert last_text(client, user_thread) == "By name."


def test_rule_conditions_combine(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    rules = Rules(fallback=lambda context: "Fallback.")
    rules.add("Paris", assistant="Nobody", then="No.")
    rules.add("Paris", when=lambda context: context.run["temperature"] < 0.5, then="Cold.")
    rules.add("Paris", then=lambda context: f"Turn {context.turn}.")
    emu.respond_with(rules)
    ask(client, user_thread, tool_assistant, temperature=0.1)
    assert last_text(client, user_thread) == "Cold."
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "Turn 0."
    client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Rome?")
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "Fallback."


def test_a_rule_with_a_list_answers_turn_by_turn_in_each_run(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.rules().add(
        "weather", then=[reply.tool_call("get_weather", {"city": "Paris"}), "Sunny in Paris."]
    )
    for _ in range(2):  # the list starts over in each run
        run = ask(client, user_thread, tool_assistant)
        assert call_names(run) == [("get_weather", '{"city":"Paris"}')]
        assert answer_calls(client, run, "sun").status == "completed"
        assert last_text(client, user_thread) == "Sunny in Paris."


def test_a_rule_list_running_out_fails_the_run_clearly(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.rules().add("weather", then=[reply.tool_call("get_time")])
    run = answer_calls(client, ask(client, user_thread, tool_assistant), "noon")
    assert run.status == "failed"
    assert run.last_error is not None
    assert "the rule for 'weather' ran out of replies" in run.last_error.message
    assert isinstance(emu.responder_errors[0].error, ScriptExhausted)


def test_a_rule_needs_a_reply() -> None:
    with pytest.raises(ValueError, match="needs a reply"):
        Rules().add("x")
    with pytest.raises(ValueError, match="at least one reply"):
        Rules().add("x", then=[])


# --- callables and their context ---------------------------------------------------------


def test_a_callable_sees_what_the_model_would_see(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    contexts: list[RunContext] = []

    def responder(context: RunContext) -> reply.Reply:
        contexts.append(context)
        if context.turn == 0:
            return reply.tool_call("get_weather", {"city": "Paris"})
        if context.turn == 1:
            return reply.tool_calls(reply.call("get_time"), reply.call("get_weather"))
        return reply.text(f"Seen {len(context.tool_outputs)} outputs.")

    emu.respond_with(responder)
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "Old question"},
            {"role": "assistant", "content": "Old answer"},
            {"role": "user", "content": "Weather and time?"},
        ]
    )
    run = ask(
        client,
        thread,
        tool_assistant,
        truncation_strategy={"type": "last_messages", "last_messages": 1},
        instructions="Be brief.",
    )
    run = answer_calls(client, answer_calls(client, run, "sun"), "noon", "rain")
    assert run.status == "completed"
    assert last_text(client, thread) == "Seen 3 outputs."
    first, second, third = contexts
    assert [c.turn for c in contexts] == [0, 1, 2]
    assert first.assistant["id"] == tool_assistant.id
    assert (first.run["id"], first.run["instructions"]) == (run.id, "Be brief.")
    assert first.thread["id"] == thread.id
    assert first.function_names == ("get_weather", "get_time")
    assert [(m.role, m.text) for m in first.messages] == [("user", "Weather and time?")]
    assert first.last_user_message == "Weather and time?"
    assert (first.tool_outputs, first.new_tool_outputs) == ((), ())
    assert [(r.name, r.arguments, r.output) for r in second.tool_outputs] == [
        ("get_weather", '{"city":"Paris"}', "sun")
    ]
    assert [r.output for r in third.tool_outputs] == ["sun", "noon", "rain"]
    assert [r.output for r in third.new_tool_outputs] == ["noon", "rain"]
    assert [m.role for m in third.messages][-3:] == ["tool", "tool", "tool"]


def test_changing_the_context_changes_nothing(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    def vandal(context: RunContext) -> str:
        context.run["status"] = "completed"  # type: ignore[index]
        context.assistant["tools"].clear()
        return "Fine."

    emu.respond_with(vandal)
    assert ask(client, user_thread, tool_assistant).status == "completed"
    assert len(client.beta.assistants.retrieve(tool_assistant.id).tools) == 2


def test_the_default_responder_only_reads_its_context(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    """Turns hand the built-in responder top-level snapshots of the stored run, assistant and
    thread rather than deep copies (`turn.ModelTurn.start`): no branch of it may change them."""
    unchanged: list[bool] = []

    def watched(context: RunContext) -> reply.Reply:
        shown = (context.run, context.assistant, context.thread)
        before = json.dumps(shown, sort_keys=True)
        answer = default_responder(context)
        unchanged.append(json.dumps(shown, sort_keys=True) == before)
        return answer

    emu.respond_with(watched)
    called = ask(client, user_thread, tool_assistant, tool_choice="required")
    assert answer_calls(client, called, "18 C").status == "completed"  # a call, then its result
    assert ask(client, user_thread, tool_assistant).status == "completed"  # an echo
    assert unchanged == [True, True, True]


def test_scripts_and_rules_of_replies_say_they_only_read() -> None:
    """What `reads_only()` says decides whether turns hand a responder snapshots or copies."""
    assert reads_only(default_responder)
    assert reads_only(Script("Hi.", reply.tool_call("get_weather", {})))
    assert not reads_only(Script("Hi.", lambda context: "Bye."))
    assert not reads_only(lambda context: "Hi.")
    rules = Rules().add("weather", then=reply.text("Sunny.")).add("time", then=["a", "b"])
    assert reads_only(rules)
    assert not reads_only(Rules(fallback=lambda context: "?"))
    assert not reads_only(Rules().add("x", then="y", when=lambda context: True))
    assert not reads_only(rules.add("z", then=lambda context: "Zed."))  # one such rule will do
    assert reads_only(rules.clear())


class Promised:
    """A responder that says it only reads, and then changes the context anyway."""

    reads_only = True

    def __call__(self, context: RunContext) -> str:
        context.run["status"] = "completed"  # type: ignore[index]  # a top-level value
        context.assistant["tools"].clear()  # a nested one: the stored list itself
        return "Fine."


@pytest.mark.parametrize("promised", [True, False])
def test_a_responder_that_says_it_only_reads_gets_snapshots(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    promised: bool,
) -> None:
    """Saying `reads_only` is a promise the turns trust: they then hand over top-level
    snapshots, whose nested values are the stored ones; without it, deep copies."""
    responder = Promised()
    if not promised:
        responder.reads_only = False
    emu.respond_with(responder)
    assert ask(client, user_thread, tool_assistant).status == "completed"
    tools = client.beta.assistants.retrieve(tool_assistant.id).tools
    assert len(tools) == (0 if promised else 2)


def test_default_responder_is_a_plain_callable_to_build_on(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.respond_with(lambda context: reply.text(default_responder(context).value.upper()))  # type: ignore[union-attr]
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "YOU SAID: WHAT IS THE WEATHER IN PARIS?"


# --- per-assistant responders ------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "name"])
def test_responders_per_assistant(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant, key: str
) -> None:
    other = client.beta.assistants.create(model="gpt-4o", name="Other", instructions="x")
    emu.respond_with(lambda context: "Global.")
    emu.respond_with(lambda context: "Mine.", assistant=getattr(tool_assistant, key))
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "Mine."
    ask(client, user_thread, other)
    assert last_text(client, user_thread) == "Global."


def test_a_script_per_assistant(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    other = client.beta.assistants.create(model="gpt-4o", instructions="x")
    emu.script("For the weather bot.", assistant=tool_assistant.id)
    emu.script("For the other one.", assistant=other.id)
    ask(client, user_thread, other)
    assert last_text(client, user_thread) == "For the other one."
    ask(client, user_thread, tool_assistant)
    assert last_text(client, user_thread) == "For the weather bot."


# --- replies ---------------------------------------------------------------------------------


def test_text_with_annotations(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    value = "Paris is sunny【4:0†forecast.txt】, see chart.png."
    emu.script(
        reply.text(
            value,
            annotations=[
                reply.file_citation("【4:0†forecast.txt】", "file-forecast"),
                reply.file_path("chart.png", "file-chart"),
            ],
        )
    )
    ask(client, user_thread, tool_assistant)
    raw = json.loads(
        client.beta.threads.messages.with_raw_response.list(thread_id=user_thread.id).text
    )
    message = Message.model_validate(raw["data"][0])
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.value == value
    citation, path = (a.model_dump() for a in text.annotations)
    assert citation == {
        "type": "file_citation",
        "text": "【4:0†forecast.txt】",
        "file_citation": {"file_id": "file-forecast"},
        "start_index": value.index("【"),
        "end_index": value.index("】") + 1,
    }
    assert (path["file_path"], path["start_index"]) == (
        {"file_id": "file-chart"},
        value.index("chart"),
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: reply.text("hi", annotations=[{"type": "footnote"}]),
        lambda: reply.text("hi", annotations=[reply.file_citation("missing", "file-1")]),
        lambda: reply.text("hi", annotations=[reply.file_citation("hi", "f", start_index=1)]),
        lambda: reply.text("hi", chunks=["h", "o"]),
        lambda: reply.fail("teapot"),  # type: ignore[arg-type]
        lambda: reply.incomplete("max_tokens"),  # type: ignore[arg-type]
        lambda: reply.tool_calls(),
        lambda: reply.text(42),  # type: ignore[arg-type]
        lambda: reply.tool_call("f", id=7),  # type: ignore[arg-type]
        lambda: reply.tool_calls("get_time"),  # type: ignore[arg-type]
        lambda: reply.fail(message=None),  # type: ignore[arg-type]
    ],
)
def test_replies_are_checked_when_built(build: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        build()


def test_parallel_tool_calls(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.script(
        reply.tool_calls(
            reply.call("get_weather", {"city": "Paris"}, id="call_paris"),
            reply.call("get_weather", {"city": "Oslo"}),
            reply.call("get_time"),
        ),
        lambda context: ", ".join(r.output for r in context.new_tool_outputs),
    )
    run = ask(client, user_thread, tool_assistant)
    assert call_names(run) == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_weather", '{"city":"Oslo"}'),
        ("get_time", "{}"),
    ]
    assert run.required_action is not None
    ids = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
    assert ids[0] == "call_paris" and len(set(ids)) == 3
    (step,) = emu.steps(run.id)
    assert [c["id"] for c in step["step_details"]["tool_calls"]] == ids
    # Outputs may come in any order; they are matched by id.
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=user_thread.id,
        tool_outputs=[
            {"tool_call_id": ids[2], "output": "noon"},
            {"tool_call_id": ids[0], "output": "sun"},
            {"tool_call_id": ids[1], "output": "snow"},
        ],
    )
    assert done.status == "completed"
    assert last_text(client, user_thread) == "sun, snow, noon"
    outputs = [c["function"]["output"] for c in emu.steps(run.id)[0]["step_details"]["tool_calls"]]
    assert outputs == ["sun", "snow", "noon"]


@pytest.mark.parametrize("code", ["server_error", "rate_limit_exceeded", "invalid_prompt"])
def test_a_failure_reply_fails_the_run(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant, code: str
) -> None:
    emu.script(reply.fail(code, f"Because {code}."))  # type: ignore[arg-type]
    run = ask(client, user_thread, tool_assistant)
    assert run.status == "failed"
    assert run.last_error is not None
    assert (run.last_error.code, run.last_error.message) == (code, f"Because {code}.")
    assert run.failed_at == run.created_at
    assert emu.responder_errors == []  # a scripted failure is not a responder error


@pytest.mark.parametrize("reason", ["max_completion_tokens", "max_prompt_tokens"])
@pytest.mark.parametrize("text", [None, "Half an ans"])
def test_an_incomplete_reply_ends_the_run_early(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    reason: str,
    text: str | None,
) -> None:
    emu.script(reply.incomplete(reason, text))  # type: ignore[arg-type]
    run = ask(client, user_thread, tool_assistant)
    assert run.status == "incomplete"
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == reason
    steps = emu.steps(run.id)
    assert len(steps) == (1 if text else 0)
    if text:
        assert last_text(client, user_thread) == text
    assert run.usage is not None
    assert run.usage.completion_tokens == sum(s["usage"]["completion_tokens"] for s in steps)


# --- misbehaving responders ----------------------------------------------------------------


def boom(context: RunContext) -> str:
    raise KeyError("no such city")


MISBEHAVING: list[tuple[Any, dict[str, Any], str]] = [
    (boom, {}, "KeyError: 'no such city'"),
    (lambda context: 42, {}, "TypeError: a responder must return a reply"),
    (lambda context: None, {}, "not NoneType"),
    (reply.tool_call("get_stock"), {}, "'get_stock', which is not among the run's function tools"),
    (
        reply.tool_calls(reply.call("get_time"), reply.call("get_time")),
        {"parallel_tool_calls": False},
        "parallel_tool_calls is false",
    ),
    (reply.tool_call("get_time"), {"tool_choice": "none"}, "tool_choice is 'none'"),
    (
        reply.tool_call("get_time"),
        {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        "another function than tool_choice 'get_weather'",
    ),
    (
        reply.tool_calls(
            reply.call("get_time", id="call_1"), reply.call("get_weather", id="call_1")
        ),
        {},
        "the same id",
    ),
]


@pytest.mark.parametrize(("responder", "fields", "message"), MISBEHAVING)
def test_a_misbehaving_responder_fails_only_its_run(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    caplog: pytest.LogCaptureFixture,
    responder: Any,
    fields: dict[str, Any],
    message: str,
) -> None:
    emu.respond_with(responder if callable(responder) else Script(responder))
    with caplog.at_level(logging.ERROR, logger="emulator"):
        run = ask(client, user_thread, tool_assistant, **fields)
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == "server_error"
    assert message in run.last_error.message
    assert [e.run_id for e in emu.responder_errors] == [run.id]
    assert any(run.id in r.getMessage() for r in caplog.records)
    assert emu.steps(run.id) == []
    # The emulator carries on: the thread is free and the next run works.
    emu.respond_with(default_responder)
    assert ask(client, user_thread, tool_assistant).status == "completed"
    assert emu.check_invariants() == []
