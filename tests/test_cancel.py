"""Cancelling runs: the response shows `cancelling`, the run then reads back `cancelled`, its
pending step is cancelled and its thread unlocked; from every active status, sync and async."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator import Emulator, reply

START = 1_714_000_000


def start_run(
    at: str, emu: Emulator, client: openai.OpenAI, thread: Thread, asst: Assistant
) -> Run:
    """A run resting at `at`: held at queued/in_progress, or waiting for a tool output."""
    runs = client.beta.threads.runs
    if at == "requires_action":
        emu.script(reply.tool_call("get_weather", {"city": "Paris"}))
        run = runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    else:
        emu.hold(at)  # type: ignore[arg-type]
        run = runs.create(thread_id=thread.id, assistant_id=asst.id)
    assert emu.runs(thread.id)[-1]["status"] == at
    return run


@pytest.mark.parametrize("at", ["queued", "in_progress", "requires_action"])
def test_cancel_shows_cancelling_then_cancelled(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant, at: str
) -> None:
    run = start_run(at, emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=5)
    runs = client.beta.threads.runs
    cancelling = runs.cancel(run.id, thread_id=user_thread.id)
    assert (cancelling.status, cancelling.cancelled_at) == ("cancelling", None)
    assert (cancelling.expires_at, cancelling.required_action) == (START + 600, None)
    cancelled = runs.poll(run.id, thread_id=user_thread.id)
    assert cancelled.status == "cancelled"
    assert (cancelled.cancelled_at, cancelled.expires_at) == (START + 5, None)
    assert (cancelled.started_at is None) == (at == "queued")
    assert (cancelled.completed_at, cancelled.failed_at, cancelled.last_error) == (None,) * 3
    steps = runs.steps.list(run_id=run.id, thread_id=user_thread.id).data
    assert [(s.status, s.cancelled_at) for s in steps] == (
        [("cancelled", START + 5)] if at == "requires_action" else []
    )
    assert cancelled.usage is not None  # the tokens its finished turns used
    assert cancelled.usage.total_tokens == sum(s.usage.total_tokens for s in steps if s.usage)
    assert emu.check_invariants() == []


def test_a_cancelled_run_frees_the_thread(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = start_run("requires_action", emu, client, user_thread, tool_assistant)
    client.beta.threads.runs.cancel(run.id, thread_id=user_thread.id)
    client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Never mind")
    emu.script("OK.")
    again = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert again.status == "completed"
    roles = [m.role for m in client.beta.threads.messages.list(thread_id=user_thread.id)]
    assert roles == ["assistant", "user", "user"]  # the cancelled run wrote no message


def test_cancelling_lasts_one_look_in_step_mode(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.progress = "step"
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert runs.retrieve(run.id, thread_id=user_thread.id).status == "in_progress"
    assert runs.cancel(run.id, thread_id=user_thread.id).status == "cancelling"
    # Still active: the thread stays locked and a second cancel is accepted.
    with pytest.raises(openai.BadRequestError, match="while a run"):
        client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="x")
    assert runs.cancel(run.id, thread_id=user_thread.id).status == "cancelling"
    assert runs.retrieve(run.id, thread_id=user_thread.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
        runs.cancel(run.id, thread_id=user_thread.id)


def test_polling_code_sees_cancelling_then_cancelled(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    """A user's own loop: poll, cancel when it takes too long, poll until it stops."""
    emu.progress = "step"
    emu.hold("in_progress")
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    seen = [run.status]
    for _ in range(10):
        run = runs.retrieve(run.id, thread_id=user_thread.id)
        seen.append(run.status)
        if run.status in ("cancelled", "completed"):
            break
        if len(seen) == 4:
            seen.append(runs.cancel(run.id, thread_id=user_thread.id).status)
    assert seen == [
        "queued",
        "in_progress",
        "in_progress",
        "in_progress",
        "cancelling",
        "cancelled",
    ]


@pytest.mark.anyio
async def test_cancel_async(
    emu: Emulator, async_client: openai.AsyncOpenAI, tool_assistant: Assistant
) -> None:
    emu.hold("in_progress")
    runs = async_client.beta.threads.runs
    thread = await async_client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = await runs.create(thread_id=thread.id, assistant_id=tool_assistant.id)
    assert (await runs.cancel(run.id, thread_id=thread.id)).status == "cancelling"
    assert (await runs.poll(run.id, thread_id=thread.id)).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status 'cancelled'"):
        await runs.cancel(run.id, thread_id=thread.id)
