"""Run endpoints through the SDK: create (with every override), create-and-run, list, retrieve,
modify, steps; run objects in every status; steps and usage as the real service records them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import openai
import pytest
from conftest import run_in_status
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from emulator import Emulator, RunContext, reply

Raw = dict[str, Any]
FILE_SEARCH_CONTENT: Final = "step_details.tool_calls[*].file_search.results[*].content"
START = 1_714_000_000  # the default frozen clock


def weather_turns(emu: Emulator) -> None:
    emu.script(
        reply.tool_call("get_weather", {"city": "Paris"}), reply.text("It is 18 C in Paris.")
    )


def test_the_documented_weather_example(emu: Emulator, client: openai.OpenAI) -> None:
    emu.script(
        reply.tool_call("get_weather", {"city": "Paris"}), reply.text("It is 18 C in Paris.")
    )
    asst = client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "function", "function": {"name": "get_weather"}}]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city":"Paris"}')
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "18"}]
    )
    assert run.status == "completed"
    messages = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    assert [m.content[0].text.value for m in messages] == ["It is 18 C in Paris."]  # type: ignore[union-attr]


@pytest.mark.anyio
async def test_the_weather_example_async(emu: Emulator, async_client: openai.AsyncOpenAI) -> None:
    weather_turns(emu)
    asst = await async_client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "function", "function": {"name": "get_weather"}}]
    )
    thread = await async_client.beta.threads.create(
        messages=[{"role": "user", "content": "Weather?"}]
    )
    runs = async_client.beta.threads.runs
    run = await runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = await runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "18"}]
    )
    assert run.status == "completed"
    steps = await runs.steps.list(run_id=run.id, thread_id=thread.id, order="asc")
    assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]


def test_strict_client_validates_a_whole_tool_run(emu: Emulator, tool_assistant: Assistant) -> None:
    """The SDK in validating mode accepts every response of a tool-call round trip."""
    weather_turns(emu)
    with openai.OpenAI(api_key="sk-test", _strict_response_validation=True) as strict:
        thread = strict.beta.threads.create(messages=[{"role": "user", "content": "Weather?"}])
        runs = strict.beta.threads.runs
        run = runs.create_and_poll(thread_id=thread.id, assistant_id=tool_assistant.id)
        assert run.required_action is not None
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "18"}],
        )
        assert run.status == "completed"
        assert len(runs.steps.list(run_id=run.id, thread_id=thread.id).data) == 2
        assert len(runs.list(thread_id=thread.id).data) == 1
        assert strict.beta.threads.messages.list(thread_id=thread.id).data[0].status == "completed"


# --- creation and overrides ----------------------------------------------------------------


def test_run_defaults_come_from_the_assistant(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert run.status == "queued"
    assert (run.assistant_id, run.thread_id) == (tool_assistant.id, user_thread.id)
    assert (run.model, run.instructions) == ("gpt-4o", "Answer briefly.")
    assert [t.model_dump() for t in run.tools] == [t.model_dump() for t in tool_assistant.tools]
    assert (run.temperature, run.top_p, run.response_format) == (1.0, 1.0, "auto")
    assert (run.tool_choice, run.parallel_tool_calls) == ("auto", True)
    assert run.truncation_strategy is not None
    assert run.truncation_strategy.model_dump() == {"type": "auto", "last_messages": None}
    assert (run.max_prompt_tokens, run.max_completion_tokens, run.metadata) == (None, None, {})
    assert (run.created_at, run.expires_at) == (START, START + 600)


def test_run_overrides_win_over_the_assistant(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    client.beta.assistants.update(
        tool_assistant.id, temperature=0.5, top_p=0.5, response_format={"type": "json_object"}
    )
    tools: Any = [{"type": "function", "function": {"name": "lookup", "strict": True}}]
    response = client.beta.threads.runs.with_raw_response.create(
        thread_id=user_thread.id,
        assistant_id=tool_assistant.id,
        model="gpt-4o-mini",
        instructions="Be terse.",
        additional_instructions="Use metric units.",
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        parallel_tool_calls=False,
        metadata={"ticket": "42"},
        temperature=0.2,
        top_p=0.9,
        response_format={"type": "text"},
        max_prompt_tokens=5000,
        max_completion_tokens=300,
        truncation_strategy={"type": "last_messages", "last_messages": 3},
        reasoning_effort="low",
    )
    raw = json.loads(response.text)
    Run.model_validate(raw)
    assert raw["model"] == "gpt-4o-mini"
    assert raw["instructions"] == "Be terse.\n\nUse metric units."
    assert raw["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",  # no "description" key: the spec has no null there
                "parameters": {"type": "object", "properties": {}},
                "strict": True,
            },
        }
    ]
    assert raw["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert raw["parallel_tool_calls"] is False
    assert raw["metadata"] == {"ticket": "42"}
    assert (raw["temperature"], raw["top_p"]) == (0.2, 0.9)
    assert raw["response_format"] == {"type": "text"}
    assert (raw["max_prompt_tokens"], raw["max_completion_tokens"]) == (5000, 300)
    assert raw["truncation_strategy"] == {"type": "last_messages", "last_messages": 3}
    assert raw["reasoning_effort"] == "low"


@pytest.mark.parametrize(
    ("assistant_instructions", "run_fields", "expected"),
    [
        ("Base.", {}, "Base."),
        ("Base.", {"instructions": "Other."}, "Other."),
        ("Base.", {"additional_instructions": "More."}, "Base.\n\nMore."),
        (None, {"additional_instructions": "More."}, "More."),
        (None, {}, ""),
        (
            "Base.",
            {"instructions": "Other.", "additional_instructions": "More."},
            "Other.\n\nMore.",
        ),
    ],
)
def test_instructions_override_and_append(
    client: openai.OpenAI,
    user_thread: Thread,
    assistant_instructions: str | None,
    run_fields: dict[str, Any],
    expected: str,
) -> None:
    asst = client.beta.assistants.create(model="gpt-4o", instructions=assistant_instructions)
    run = client.beta.threads.runs.create(
        thread_id=user_thread.id,
        assistant_id=asst.id,
        **run_fields,
    )
    assert run.instructions == expected


def test_additional_messages_join_the_thread_before_the_run(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    seen: list[str | None] = []

    def responder(context: RunContext) -> str:
        seen.append(context.last_user_message)
        return "ok"

    emu.respond_with(responder)
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=tool_assistant.id,
        additional_messages=[
            {"role": "user", "content": "First."},
            {"role": "user", "content": "Second.", "metadata": {"n": "2"}},
        ],
    )
    assert run.status == "completed"
    assert seen == ["Second."]
    listed = client.beta.threads.messages.list(thread_id=thread.id, order="asc").data
    assert [(m.role, m.run_id) for m in listed] == [
        ("user", None),
        ("user", None),
        ("assistant", run.id),
    ]
    assert listed[1].metadata == {"n": "2"}
    assert listed[0].created_at <= run.created_at


def test_create_thread_and_run(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    emu.script("Bonjour!")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=tool_assistant.id,
        thread={"messages": [{"role": "user", "content": "Hi"}], "metadata": {"k": "v"}},
        instructions="Speak French.",
        metadata={"run": "1"},
        temperature=0.3,
    )
    assert run.status == "completed"
    assert (run.instructions, run.metadata, run.temperature) == ("Speak French.", {"run": "1"}, 0.3)
    thread = client.beta.threads.retrieve(run.thread_id)
    assert thread.metadata == {"k": "v"}
    texts = [
        m.content[0].text.value  # type: ignore[union-attr]
        for m in client.beta.threads.messages.list(thread_id=thread.id, order="asc")
    ]
    assert texts == ["Hi", "Bonjour!"]


def test_create_and_run_without_a_thread_body(client: openai.OpenAI) -> None:
    asst = client.beta.assistants.create(model="gpt-4o", instructions="Greet.")
    run = client.beta.threads.create_and_run_poll(assistant_id=asst.id)
    assert run.status == "completed"
    assert client.beta.threads.messages.list(thread_id=run.thread_id).data[0].role == "assistant"


# --- list, retrieve, modify ----------------------------------------------------------------


def test_list_runs_pages_in_both_orders(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    created = []
    for _ in range(5):
        run = client.beta.threads.runs.create_and_poll(
            thread_id=user_thread.id, assistant_id=tool_assistant.id
        )
        created.append(run.id)
        emu.clock.advance(seconds=1)
    runs = client.beta.threads.runs
    first = runs.list(thread_id=user_thread.id, limit=2)
    assert [r.id for r in first.data] == created[:2:-1][:2] == [created[4], created[3]]
    assert first.has_more is True
    assert [r.id for r in runs.list(thread_id=user_thread.id, limit=2)] == created[::-1]
    assert [r.id for r in runs.list(thread_id=user_thread.id, limit=2, order="asc")] == created
    page = runs.list(thread_id=user_thread.id, order="asc", after=created[1], limit=2)
    assert ([r.id for r in page.data], page.has_more) == (created[2:4], True)
    page = runs.list(thread_id=user_thread.id, order="asc", before=created[3], limit=2)
    assert [r.id for r in page.data] == created[1:3]
    assert all(r.status == "completed" for r in runs.list(thread_id=user_thread.id))


def test_retrieve_and_modify_a_run(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id, metadata={"a": "1"}
    )
    updated = client.beta.threads.runs.update(run.id, thread_id=user_thread.id, metadata={"b": "2"})
    assert updated.metadata == {"b": "2"}
    again = client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id)
    assert again.model_dump() == updated.model_dump()


@pytest.mark.parametrize("where", ["other thread", "unknown run"])
def test_a_run_is_found_only_on_its_thread(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant, where: str
) -> None:
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    thread_id, run_id = user_thread.id, run.id
    if where == "other thread":
        thread_id = client.beta.threads.create().id
    else:
        run_id = "run_doesnotexist"
    operations: list[Callable[[], object]] = [
        lambda: client.beta.threads.runs.retrieve(run_id, thread_id=thread_id),
        lambda: client.beta.threads.runs.update(run_id, thread_id=thread_id, metadata={}),
        lambda: client.beta.threads.runs.cancel(run_id, thread_id=thread_id),
        lambda: client.beta.threads.runs.steps.list(run_id, thread_id=thread_id),
    ]
    for operation in operations:
        with pytest.raises(openai.NotFoundError) as caught:
            operation()
        assert caught.value.body == {
            "message": f"No run found with id '{run_id}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_unknown_thread_or_assistant_is_404(
    client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    with pytest.raises(openai.NotFoundError, match="No thread found with id 'thread_nope'"):
        client.beta.threads.runs.create(thread_id="thread_nope", assistant_id=tool_assistant.id)
    with pytest.raises(openai.NotFoundError, match="No assistant found with id 'asst_nope'"):
        client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id="asst_nope")
    with pytest.raises(openai.NotFoundError, match="No assistant found with id 'asst_nope'"):
        client.beta.threads.create_and_run(assistant_id="asst_nope")


# --- run steps -------------------------------------------------------------------------------


def tool_run(emu: Emulator, client: openai.OpenAI, thread: Thread, asst: Assistant) -> Run:
    """A run that called get_weather, got "18" and answered: two steps."""
    weather_turns(emu)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    return client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "18"}]
    )


def test_steps_record_each_turn(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = tool_run(emu, client, user_thread, tool_assistant)
    raw = client.beta.threads.runs.steps.with_raw_response.list(
        run_id=run.id, thread_id=user_thread.id, order="asc"
    )
    tool_step, message_step = (RunStep.model_validate(s) for s in json.loads(raw.text)["data"])
    assert tool_step.type == "tool_calls"
    assert tool_step.step_details.model_dump() == {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": run_call_id(emu, run),
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                    "output": "18",
                },
            }
        ],
    }
    assert message_step.type == "message_creation"
    assert message_step.step_details.type == "message_creation"
    message_id = message_step.step_details.message_creation.message_id
    message = client.beta.threads.messages.retrieve(message_id, thread_id=user_thread.id)
    assert (message.run_id, message.assistant_id) == (run.id, tool_assistant.id)
    for step in (tool_step, message_step):
        assert (step.run_id, step.thread_id, step.assistant_id) == (
            run.id,
            user_thread.id,
            tool_assistant.id,
        )
        assert step.status == "completed"
        assert step.completed_at == START
        assert step.expires_at is None  # type: ignore[attr-defined]
        assert step.usage is not None
        assert step.usage.total_tokens == step.usage.prompt_tokens + step.usage.completion_tokens


def run_call_id(emu: Emulator, run: Run) -> str:
    calls = [s for s in emu.steps(run.id) if s["type"] == "tool_calls"]
    return str(calls[0]["step_details"]["tool_calls"][0]["id"])


def test_run_usage_is_the_sum_of_its_steps(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = tool_run(emu, client, user_thread, tool_assistant)
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=user_thread.id).data
    assert run.usage is not None
    usages = [s.usage for s in steps if s.usage is not None]
    assert len(usages) == 2
    assert run.usage.prompt_tokens == sum(u.prompt_tokens for u in usages) > 0
    assert run.usage.completion_tokens == sum(u.completion_tokens for u in usages) > 0
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens


def test_retrieve_steps_with_include(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = tool_run(emu, client, user_thread, tool_assistant)
    steps = client.beta.threads.runs.steps
    listed = steps.list(run_id=run.id, thread_id=user_thread.id, include=[FILE_SEARCH_CONTENT])
    assert len(listed.data) == 2
    step = steps.retrieve(
        listed.data[0].id, thread_id=user_thread.id, run_id=run.id, include=[FILE_SEARCH_CONTENT]
    )
    assert step.model_dump() == listed.data[0].model_dump()
    with pytest.raises(openai.BadRequestError) as caught:
        steps.list(run_id=run.id, thread_id=user_thread.id, include=["bogus"])  # type: ignore[list-item]
    assert caught.value.param == "include"


def test_step_pages_and_404s(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.script(
        reply.tool_call("get_time"),
        reply.tool_call("get_time"),
        reply.tool_call("get_time"),
        "Done.",
    )
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    while run.status == "requires_action":
        assert run.required_action is not None
        (call,) = run.required_action.submit_tool_outputs.tool_calls
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=user_thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "noon"}],
        )
    expected = [s["id"] for s in emu.steps(run.id)]
    assert len(expected) == 4
    listed = runs.steps.list(run_id=run.id, thread_id=user_thread.id, limit=3, order="asc")
    assert listed.has_more is True
    assert [s.id for s in listed] == expected  # auto-pagination
    assert [s.id for s in runs.steps.list(run_id=run.id, thread_id=user_thread.id)] == expected[
        ::-1
    ]
    with pytest.raises(openai.NotFoundError) as caught:
        runs.steps.retrieve("step_nope", thread_id=user_thread.id, run_id=run.id)
    assert caught.value.body["message"] == "No run step found with id 'step_nope'."  # type: ignore[index]
    other = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    with pytest.raises(openai.NotFoundError, match=f"No run step found with id '{expected[0]}'."):
        runs.steps.retrieve(expected[0], thread_id=user_thread.id, run_id=other.id)


# --- every status ----------------------------------------------------------------------------

NOT_NULL = {
    "queued": {"expires_at"},
    "in_progress": {"started_at", "expires_at"},
    "requires_action": {"started_at", "expires_at", "required_action"},
    "cancelling": {"started_at", "expires_at"},
    "cancelled": {"started_at", "cancelled_at", "usage"},
    "failed": {"started_at", "failed_at", "last_error", "usage"},
    "completed": {"started_at", "completed_at", "usage"},
    "incomplete": {"started_at", "completed_at", "incomplete_details", "usage"},
    "expired": {"started_at", "expires_at", "usage"},
}
NULLABLE = (
    "started_at",
    "completed_at",
    "failed_at",
    "cancelled_at",
    "expires_at",
    "required_action",
    "last_error",
    "incomplete_details",
    "usage",
)


@pytest.mark.parametrize("status", list(NOT_NULL))
def test_run_object_in_every_status(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
) -> None:
    raw = run_in_status(status, emu, client, user_thread, tool_assistant)
    run = Run.model_validate(raw)
    assert run.status == status
    assert {name for name in NULLABLE if raw[name] is not None} == NOT_NULL[status]
    assert list(raw)[:6] == ["id", "object", "created_at", "assistant_id", "thread_id", "status"]
    if status == "expired":
        assert raw["expires_at"] == raw["created_at"] + 600
    if status == "failed":
        assert raw["last_error"] == {"code": "rate_limit_exceeded", "message": "Slow down."}
    if status == "incomplete":
        assert raw["incomplete_details"] == {"reason": "max_prompt_tokens"}
    if raw["usage"] is not None:  # a finished run's usage is the sum of its steps'
        steps = [s["usage"] for s in emu.steps(raw["id"])]
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            assert raw["usage"][key] == sum(u[key] for u in steps)
    assert emu.check_invariants() == []


STEP_STATUS_AFTER = {
    "requires_action": "in_progress",
    "completed": "completed",
    "cancelled": "cancelled",
    "expired": "expired",
}


@pytest.mark.parametrize(("run_status", "step_status"), list(STEP_STATUS_AFTER.items()))
def test_tool_step_in_every_reachable_status(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    run_status: str,
    step_status: str,
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), "Sunny.")
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    if run_status == "completed":
        runs.submit_tool_outputs(
            run.id,
            thread_id=user_thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "x"}],
        )
    elif run_status == "cancelled":
        runs.cancel(run.id, thread_id=user_thread.id)
    elif run_status == "expired":
        emu.clock.advance(seconds=601)
    assert runs.retrieve(run.id, thread_id=user_thread.id).status == run_status
    step_id = emu.steps(run.id)[0]["id"]
    raw = json.loads(
        runs.steps.with_raw_response.retrieve(step_id, thread_id=user_thread.id, run_id=run.id).text
    )
    step = RunStep.model_validate(raw)
    assert step.status == step_status
    assert (raw["usage"] is None) == (step_status == "in_progress")
    stamp = {"completed": "completed_at", "cancelled": "cancelled_at", "expired": "expired_at"}
    for name in ("completed_at", "cancelled_at", "expired_at", "failed_at"):
        assert (raw[name] is not None) == (stamp.get(step_status) == name), name
    assert (raw["expires_at"] is not None) == (step_status in ("in_progress", "expired"))
    output = raw["step_details"]["tool_calls"][0]["function"]["output"]
    assert output == ("x" if step_status == "completed" else None)


def test_messages_written_by_runs_validate(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.script(reply.incomplete(text="Partial answ"), "Done.")
    runs = client.beta.threads.runs
    first = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    raw = json.loads(
        client.beta.threads.messages.with_raw_response.list(thread_id=user_thread.id).text
    )
    done, partial = (Message.model_validate(m) for m in raw["data"][:2])
    assert (done.status, done.completed_at) == ("completed", START)
    assert (partial.status, partial.run_id, first.status) == ("incomplete", first.id, "incomplete")
    assert partial.incomplete_details is not None
    assert partial.incomplete_details.reason == "max_tokens"


# --- illegal moves: the real 400s, nothing changed, never retried ---------------------------

ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")


def bad_request(call: object, message: str) -> None:
    assert isinstance(call, openai.BadRequestError)
    assert call.status_code == 400
    assert call.body == {
        "message": message,
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


@pytest.mark.parametrize("status", ACTIVE)
def test_an_active_run_locks_its_thread(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
) -> None:
    run = run_in_status(status, emu, client, user_thread, tool_assistant)
    before = len(emu.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Hi")
    bad_request(
        caught.value, f"Can't add messages to {user_thread.id} while a run {run['id']} is active."
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    bad_request(caught.value, f"Thread {user_thread.id} already has an active run {run['id']}.")
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(
            thread_id=user_thread.id,
            assistant_id=tool_assistant.id,
            additional_messages=[{"role": "user", "content": "Sneaky"}],
        )
    assert len(emu.requests) == before + 3  # 400s are not retried
    assert len(emu.messages(user_thread.id)) == 1
    assert [r["id"] for r in emu.runs(user_thread.id)] == [run["id"]]
    assert emu.runs(user_thread.id)[0]["status"] == status  # writes do not move the run
    assert emu.check_invariants() == []


@pytest.mark.parametrize("status", TERMINAL)
def test_a_finished_run_unlocks_its_thread(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
) -> None:
    run_in_status(status, emu, client, user_thread, tool_assistant)
    emu.respond_with(lambda context: "Again.")
    emu.release()
    client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Hi")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert run.status == "completed"
    assert emu.check_invariants() == []


@pytest.mark.parametrize(
    "status", ["queued", "in_progress", "cancelling", "completed", *TERMINAL[1:]]
)
def test_tool_outputs_only_when_requires_action(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
) -> None:
    run = run_in_status(status, emu, client, user_thread, tool_assistant)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.submit_tool_outputs(
            run["id"],
            thread_id=user_thread.id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "1"}],
        )
    bad_request(caught.value, f'Runs in status "{status}" do not accept tool outputs.')
    assert emu.runs(user_thread.id)[0]["status"] == status


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (["b"], "['b']"),
        (["a", "a"], "['a', 'a']"),
        (["a", "b", "a"], "['a', 'b', 'a']"),
        (["a", "call_unknown"], "['a', 'call_unknown']"),
        ([], "[]"),
    ],
)
def test_tool_outputs_must_answer_every_call_once(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    sent: list[str],
    shown: str,
) -> None:
    emu.script(
        reply.tool_calls(
            reply.call("get_weather", id="call_a"), reply.call("get_time", id="call_b")
        ),
        "Done.",
    )
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    ids = {"a": "call_a", "b": "call_b"}
    outputs = [{"tool_call_id": ids.get(name, name), "output": "1"} for name in sent]
    with pytest.raises(openai.BadRequestError) as caught:
        runs.submit_tool_outputs(run.id, thread_id=user_thread.id, tool_outputs=outputs)  # type: ignore[arg-type]
    expected = shown.replace("'a'", "'call_a'").replace("'b'", "'call_b'")
    assert caught.value.body["message"] == (  # type: ignore[index]
        f"Expected tool outputs for call_ids ['call_a', 'call_b'], got {expected}"
    )
    # The run is untouched and still takes the right outputs.
    again = runs.retrieve(run.id, thread_id=user_thread.id)
    assert again.model_dump() == run.model_dump()
    assert emu.steps(run.id)[0]["step_details"]["tool_calls"][0]["function"]["output"] is None
    done = runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=user_thread.id,
        tool_outputs=[
            {"tool_call_id": "call_b", "output": "noon"},
            {"tool_call_id": "call_a", "output": "sunny"},
        ],
    )
    assert done.status == "completed"


@pytest.mark.parametrize("status", TERMINAL)
def test_cancelling_a_finished_run_is_refused(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
) -> None:
    run = run_in_status(status, emu, client, user_thread, tool_assistant)
    stored = emu.runs(user_thread.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.cancel(run["id"], thread_id=user_thread.id)
    bad_request(caught.value, f"Cannot cancel run with status '{status}'.")
    assert emu.runs(user_thread.id) == stored


def test_a_run_needs_a_user_message_or_instructions(emu: Emulator, client: openai.OpenAI) -> None:
    silent = client.beta.assistants.create(model="gpt-4o")
    empty = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread_id=empty.id, assistant_id=silent.id)
    assert caught.value.body == {
        "message": "Run creation requires a Thread with a user message or an assistant with "
        "instructions.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_thread",
    }
    with pytest.raises(openai.BadRequestError, match="Run creation requires"):
        client.beta.threads.create_and_run(assistant_id=silent.id)
    assert list(emu.threads) == [empty.id]  # the refused create-and-run left no thread
    # Any of: a user message (added with the run), instructions, additional instructions.
    for extra in (
        {"additional_messages": [{"role": "user", "content": "Hi"}]},
        {"instructions": "Greet."},
        {"additional_instructions": "Greet."},
    ):
        run = client.beta.threads.runs.create_and_poll(
            thread_id=empty.id,
            assistant_id=silent.id,
            **extra,
        )
        assert run.status == "completed"
    assert emu.check_invariants() == []


def test_an_assistant_message_alone_does_not_count(emu: Emulator, client: openai.OpenAI) -> None:
    silent = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "assistant", "content": "Hello."}])
    with pytest.raises(openai.BadRequestError, match="requires a Thread with a user message"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=silent.id)
    assert emu.runs(thread.id) == []


# --- fidelity: modifying a run, tool_choice (issue 11 points 7 and 9) -------------------------


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("queued", False),
        ("in_progress", False),
        ("cancelling", False),
        ("requires_action", True),
        ("completed", True),
        ("expired", True),
    ],
)
def test_a_run_the_service_is_working_on_cannot_be_modified(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    status: str,
    allowed: bool,
) -> None:
    """Recorded: 400 `Cannot update run with status 'in_progress'.` (real-traffic.md §3,
    runs_modify.yml); `queued` and `cancelling` too, while a run resting in `requires_action`
    or terminal takes new metadata (README "Fidelity")."""
    raw = run_in_status(status, emu, client, user_thread, tool_assistant)
    update = client.beta.threads.runs.update
    if allowed:
        updated = update(raw["id"], thread_id=user_thread.id, metadata={"k": "v"})
        assert (updated.status, updated.metadata) == (status, {"k": "v"})
        return
    with pytest.raises(openai.BadRequestError) as caught:
        update(raw["id"], thread_id=user_thread.id, metadata={"k": "v"})
    assert caught.value.body == {
        "message": f"Cannot update run with status '{status}'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert emu.runs(user_thread.id)[0]["metadata"] == {}


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "function", "function": {"name": "get_stock_price"}},
        {"type": "code_interpreter"},
    ],
    ids=["unknown function", "absent tool type"],
)
@pytest.mark.parametrize("endpoint", ["runs.create", "threads.create_and_run"])
def test_tool_choice_must_name_one_of_the_runs_tools(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    choice: Any,
    endpoint: str,
) -> None:
    """Issue 11 point 9: the real service refused it at creation with a 400 (before, the run
    failed later with `server_error`); nothing is created."""
    threads = len(emu.threads)
    with pytest.raises(openai.BadRequestError) as caught:
        if endpoint == "runs.create":
            client.beta.threads.runs.create(
                thread_id=user_thread.id, assistant_id=tool_assistant.id, tool_choice=choice
            )
        else:
            client.beta.threads.create_and_run(assistant_id=tool_assistant.id, tool_choice=choice)
    assert (caught.value.param, caught.value.code) == ("tool_choice", "invalid_value")
    assert emu.runs(user_thread.id) == [] and len(emu.threads) == threads


def test_a_turn_reads_a_copy_of_the_run_state_with_every_field() -> None:
    """`RunState.seen()` lists the fields by hand: a field added later must be copied too."""
    from dataclasses import fields, replace

    from emulator.engine.outcomes import RunState
    from emulator.engine.responders import ToolResult

    values = {
        "tool_results": [ToolResult("call_1", "f", "{}", "1")],
        "new_results": 1,
        "pending_step_id": "step_1",
        "pending_usage": (3, 4),
        "turn": 2,
        "prompt_tokens": 5,
        "completion_tokens": 6,
        "reports": [],
        "searches": [{"query": "q"}],
        "code_calls": [{"input": "1"}],
    }
    assert {f.name for f in fields(RunState)} == set(values)  # a new field: add it here
    state = RunState(**values)  # type: ignore[arg-type]
    seen = state.seen()
    assert seen == replace(state, reports=[])
    assert seen.tool_results is not state.tool_results and seen.searches is not state.searches
