"""The emulator's clock: deterministic timestamps, `advance`, and runs expiring 600 s after
creation when nothing moved them on (without the test ever sleeping)."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator import Emulator, RealClock, reply

START = 1_714_000_000


def waiting_run(emu: Emulator, client: openai.OpenAI, thread: Thread, asst: Assistant) -> Run:
    """A run in `requires_action`, waiting for the output of one get_weather call."""
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), "It is 18 C.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"
    return run


def outputs_for(run: Run) -> list[Any]:
    assert run.required_action is not None
    return [
        {"tool_call_id": call.id, "output": "18"}
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]


def test_timestamps_come_from_the_emulator_clock(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    assert emu.clock.now() == START
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    assert thread.created_at == START
    emu.clock.advance(seconds=30)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=tool_assistant.id
    )
    assert (run.created_at, run.started_at, run.completed_at) == (START + 30,) * 3
    assert emu.clock.advance(minutes=2) == START + 150
    assert client.beta.threads.create().created_at == START + 150


@pytest.mark.parametrize(
    ("seconds", "minutes", "expired"),
    [(599, 0, False), (0, 10, False), (601, 0, True), (1, 10, True), (0, 60, True)],
)
def test_a_run_waiting_for_tool_outputs_expires_after_600_s(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    seconds: int,
    minutes: int,
    expired: bool,
) -> None:
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=seconds, minutes=minutes)
    runs = client.beta.threads.runs
    seen = runs.retrieve(run.id, thread_id=user_thread.id)
    if not expired:
        assert seen.status == "requires_action"
        done = runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=user_thread.id, tool_outputs=outputs_for(run)
        )
        assert done.status == "completed"
        return
    assert seen.status == "expired"
    assert seen.expires_at == seen.created_at + 600  # an expired run keeps its expires_at
    assert (seen.required_action, seen.completed_at, seen.failed_at, seen.cancelled_at) == (
        None,
        None,
        None,
        None,
    )
    with pytest.raises(openai.BadRequestError) as caught:
        runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=user_thread.id, tool_outputs=outputs_for(run)
        )
    assert caught.value.body["message"] == 'Runs in status "expired" do not accept tool outputs.'  # type: ignore[index]


def test_submitting_without_looking_first_still_sees_expiry(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=601)
    with pytest.raises(openai.BadRequestError, match='Runs in status "expired"'):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=user_thread.id, tool_outputs=outputs_for(run)
        )
    assert emu.runs(user_thread.id)[0]["status"] == "expired"


def test_expiry_settles_steps_and_unlocks_the_thread(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=601)
    client.beta.threads.messages.list(thread_id=user_thread.id)
    (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=user_thread.id).data
    assert step.status == "expired"
    assert step.expired_at == START + 600  # the deadline (issue 11 point 2)
    expired = client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id)
    assert expired.usage is not None and step.usage is not None
    assert expired.usage.total_tokens == step.usage.total_tokens > 0
    emu.script("Fresh start.")
    client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="Again")
    again = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert (again.status, again.expires_at) == ("completed", None)
    assert emu.check_invariants() == []


@pytest.mark.parametrize("held_at", ["queued", "in_progress"])
def test_held_runs_expire_too(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    held_at: str,
) -> None:
    emu.hold(held_at)  # type: ignore[arg-type]
    run = client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    emu.clock.advance(seconds=600)
    assert client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id).status == held_at
    emu.clock.advance(seconds=1)
    polled = client.beta.threads.runs.poll(run.id, thread_id=user_thread.id)
    assert polled.status == "expired"
    assert (polled.started_at is None) == (held_at == "queued")


def test_expires_at_is_not_extended_by_tool_outputs(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.script(reply.tool_call("get_time"), reply.tool_call("get_time"), "Late.")
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    emu.clock.advance(seconds=400)
    run = runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=user_thread.id, tool_outputs=outputs_for(run)
    )
    assert (run.status, run.expires_at, run.started_at) == (
        "requires_action",
        START + 600,
        START + 400,
    )
    emu.clock.advance(seconds=201)  # 601 s after creation, 201 s after the second call
    assert runs.retrieve(run.id, thread_id=user_thread.id).status == "expired"


@pytest.mark.parametrize("reply_with", ["Done.", reply.fail(), reply.incomplete()])
def test_finished_runs_never_expire(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    reply_with: object,
) -> None:
    emu.script(reply_with)  # type: ignore[arg-type]
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    emu.clock.advance(minutes=30)
    later = client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id)
    assert later.model_dump() == run.model_dump()
    assert later.expires_at is None


def test_the_inspection_api_shows_expiry(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=601)
    assert [r["status"] for r in emu.runs(user_thread.id)] == ["expired"]
    assert [s["status"] for s in emu.steps(run.id)] == ["expired"]


def test_a_real_clock_can_still_be_advanced() -> None:
    emu = Emulator(clock="real")
    with emu, openai.OpenAI(api_key="sk-test") as client:
        assert isinstance(emu.clock, RealClock)
        asst = client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "f"}}]
        )
        assert abs(asst.created_at - time.time()) <= 2
        emu.script(reply.tool_call("f"))
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
        emu.clock.advance(minutes=11)
        later = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert later.status == "expired"


@pytest.mark.anyio
async def test_expiry_async(
    emu: Emulator, async_client: openai.AsyncOpenAI, tool_assistant: Assistant
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}))
    runs = async_client.beta.threads.runs
    thread = await async_client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = await runs.create_and_poll(thread_id=thread.id, assistant_id=tool_assistant.id)
    emu.clock.advance(seconds=601)
    assert (await runs.retrieve(run.id, thread_id=thread.id)).status == "expired"
    with pytest.raises(openai.BadRequestError, match='Runs in status "expired"'):
        await runs.submit_tool_outputs(run.id, thread_id=thread.id, tool_outputs=outputs_for(run))


# --- expiry at the deadline, fractional time (issue 11 points 2 and 3) ------------------------


def test_expiry_is_dated_at_the_deadline_however_late_it_is_read(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    """Issue 11 point 2: after `advance(hours=1)` the step's `expired_at` is the deadline
    (`created_at + 600`, assistants-v2.md §5.2), not the time of the first read."""
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(hours=1)
    expired = client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id)
    (step,) = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=user_thread.id).data
    assert (expired.status, expired.expires_at) == ("expired", run.created_at + 600)
    assert (step.status, step.expired_at) == ("expired", run.created_at + 600)


def test_moving_the_clock_back_never_revives_a_run(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    """Issue 11 point 2: `advance(700)` then `move_to(created + 100)` with no read between: the
    run expired when the clock passed its deadline, so tool outputs are refused."""
    run = waiting_run(emu, client, user_thread, tool_assistant)
    emu.clock.advance(seconds=700)
    emu.clock.move_to(run.created_at + 100)
    with pytest.raises(openai.BadRequestError, match='status "expired"'):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=user_thread.id, tool_outputs=outputs_for(run)
        )
    assert client.beta.threads.runs.retrieve(run.id, thread_id=user_thread.id).status == "expired"


def test_fractional_time_adds_up() -> None:
    """Issue 11 point 3: 1,202 half-second advances reach +601; `now()` shows whole seconds."""
    with Emulator() as emulator:
        for _ in range(1_202):
            emulator.clock.advance(seconds=0.5)
        assert emulator.clock.now() == START + 601
        emulator.clock.advance(seconds=0.75)
        assert emulator.clock.now() == START + 601  # 601.75 shows as 601


def test_a_poll_whose_sleep_moves_the_clock_reaches_expiry(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11 point 3: a poll helper sleeping 0.5 s at a time (`poll_interval_ms=500`) whose
    sleep moves the clock; before, `int(0.5) == 0` and it looped forever. The run is 595 s old
    when polling starts, so twelve half-second sleeps must add up to just past its expiry."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        assert len(slept) <= 20, "the half-second sleeps do not add up"
        emu.clock.advance(seconds=seconds)

    emu.hold("in_progress")
    runs = client.beta.threads.runs
    created = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    emu.clock.advance(seconds=595)
    monkeypatch.setattr(time, "sleep", sleep)
    run = runs.poll(created.id, thread_id=user_thread.id, poll_interval_ms=500)
    assert (run.status, run.expires_at) == ("expired", run.created_at + 600)
    assert slept == [0.5] * 12  # 595 + 6 s: the first time the clock is past `expires_at`
    assert isinstance(run.created_at, int) and isinstance(run.expires_at, int)
