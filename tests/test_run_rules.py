"""Illegal moves on runs get the real service's 400s, leave the state untouched, and are never
retried by the SDK (they are 400s, not 409s)."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator import Emulator, reply

ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")
TERMINAL = ("completed", "failed", "cancelled", "expired", "incomplete")


def bring_to(
    status: str, emu: Emulator, client: openai.OpenAI, thread: Thread, asst: Assistant
) -> Run:
    """Create a run on `thread` and leave it in `status` (as the emulator stores it)."""
    runs = client.beta.threads.runs
    if status in ("queued", "in_progress"):
        emu.hold(status)  # type: ignore[arg-type]
    elif status == "cancelling":
        emu.progress = "step"  # cancelling lasts until the run is next looked at
    elif status in ("requires_action", "expired", "cancelled"):
        emu.script(reply.tool_call("get_weather", {"city": "Paris"}))
    elif status == "failed":
        emu.script(reply.fail())
    elif status == "incomplete":
        emu.script(reply.incomplete())
    run = runs.create(thread_id=thread.id, assistant_id=asst.id)
    if status == "cancelling":
        run = runs.cancel(run.id, thread_id=thread.id)
    elif status == "cancelled":
        runs.cancel(run.id, thread_id=thread.id)
    elif status == "expired":
        emu.clock.advance(seconds=601)
    assert emu.runs(thread.id)[-1]["status"] == status
    return run


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
    run = bring_to(status, emu, client, user_thread, tool_assistant)
    before = len(emu.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Hi")
    bad_request(
        caught.value, f"Can't add messages to {user_thread.id} while a run {run.id} is active."
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    bad_request(caught.value, f"Thread {user_thread.id} already has an active run {run.id}.")
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(
            thread_id=user_thread.id,
            assistant_id=tool_assistant.id,
            additional_messages=[{"role": "user", "content": "Sneaky"}],
        )
    assert len(emu.requests) == before + 3  # 400s are not retried
    assert len(emu.messages(user_thread.id)) == 1
    assert [r["id"] for r in emu.runs(user_thread.id)] == [run.id]
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
    bring_to(status, emu, client, user_thread, tool_assistant)
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
    run = bring_to(status, emu, client, user_thread, tool_assistant)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.submit_tool_outputs(
            run.id,
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
    run = bring_to(status, emu, client, user_thread, tool_assistant)
    stored = emu.runs(user_thread.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.cancel(run.id, thread_id=user_thread.id)
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
