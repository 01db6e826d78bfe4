"""How fast runs move: at rest by the first look (default, so the SDK's poll helpers never
sleep), one status per look (`emu.progress = "step"`), or held until released."""

from __future__ import annotations

import time
from collections.abc import Callable

import openai
import pytest
from openai.types.beta import Assistant, Thread

from emulator import Emulator, reply


def run_gets(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.method == "GET" and "/runs/run_" in r.path)


# --- default: at rest by the first look ------------------------------------------------------


def test_poll_helpers_never_sleep_by_default(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    sleeps: list[float],
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), "Sunny.", "Hello.")
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert run.status == "requires_action"
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=user_thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "sun"}],
    )
    assert run.status == "completed"
    done = client.beta.threads.create_and_run_poll(
        assistant_id=tool_assistant.id, thread={"messages": [{"role": "user", "content": "Hi"}]}
    )
    assert done.status == "completed"
    assert sleeps == []
    assert run_gets(emu) == 3  # one look per poll helper


def test_the_response_shows_the_status_the_request_produced(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.script(reply.tool_call("get_time"), "Noon.")
    runs = client.beta.threads.runs
    created = runs.with_raw_response.create(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert created.headers["openai-poll-after-ms"] == "0"
    run = created.parse()
    assert run.status == "queued"
    seen = runs.retrieve(run.id, thread_id=user_thread.id)
    assert seen.status == "requires_action"
    assert seen.required_action is not None
    call = seen.required_action.submit_tool_outputs.tool_calls[0]
    submitted = runs.submit_tool_outputs(
        run.id, thread_id=user_thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "12"}]
    )
    assert (submitted.status, submitted.required_action) == ("queued", None)
    assert runs.retrieve(run.id, thread_id=user_thread.id).status == "completed"


@pytest.mark.anyio
async def test_async_poll_helpers_never_sleep_by_default(
    emu: Emulator, async_client: openai.AsyncOpenAI, tool_assistant: Assistant, sleeps: list[float]
) -> None:
    emu.script(reply.tool_call("get_time"), "Noon.")
    runs = async_client.beta.threads.runs
    thread = await async_client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = await runs.create_and_poll(thread_id=thread.id, assistant_id=tool_assistant.id)
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = await runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "12"}]
    )
    assert run.status == "completed"
    assert sleeps == []


# --- step mode: one status per look --------------------------------------------------------


def test_step_mode_moves_one_status_per_look(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.progress = "step"
    emu.script(reply.tool_call("get_time"), "Noon.")
    runs = client.beta.threads.runs

    def look() -> str:
        return runs.retrieve(run.id, thread_id=user_thread.id).status

    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert [run.status, look(), look(), look()] == [
        "queued",
        "in_progress",
        "requires_action",
        "requires_action",
    ]
    calls = runs.retrieve(run.id, thread_id=user_thread.id).required_action
    assert calls is not None
    call_id = calls.submit_tool_outputs.tool_calls[0].id
    submitted = runs.submit_tool_outputs(
        run.id, thread_id=user_thread.id, tool_outputs=[{"tool_call_id": call_id, "output": "12"}]
    )
    assert [submitted.status, look(), look(), look()] == [
        "queued",
        "in_progress",
        "completed",
        "completed",
    ]


def test_step_mode_started_at_follows_each_in_progress(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.progress = "step"
    emu.script(reply.tool_call("get_time"), "Noon.")
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    assert run.started_at is None
    emu.clock.advance(seconds=2)
    assert runs.retrieve(run.id, thread_id=user_thread.id).started_at == run.created_at + 2
    waiting = runs.retrieve(run.id, thread_id=user_thread.id)
    assert waiting.required_action is not None
    emu.clock.advance(seconds=3)
    submitted = runs.submit_tool_outputs(
        run.id,
        thread_id=user_thread.id,
        tool_outputs=[
            {
                "tool_call_id": waiting.required_action.submit_tool_outputs.tool_calls[0].id,
                "output": "x",
            }
        ],
    )
    assert submitted.started_at == run.created_at + 2  # the queued run keeps the old one
    assert runs.retrieve(run.id, thread_id=user_thread.id).started_at == run.created_at + 5


def test_writes_do_not_advance_a_stepped_run(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.progress = "step"
    run = client.beta.threads.runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    for _ in range(3):
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.messages.create(thread_id=user_thread.id, role="user", content="x")
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.create(
                thread_id=user_thread.id, assistant_id=tool_assistant.id
            )
        with pytest.raises(openai.BadRequestError, match="Cannot update run with status 'queued'"):
            client.beta.threads.runs.update(run.id, thread_id=user_thread.id, metadata={"k": "v"})
    assert emu.runs(user_thread.id)[0]["status"] == "queued"


@pytest.mark.parametrize("reads", ["run", "runs", "messages", "steps"])
def test_any_read_of_the_thread_is_a_look(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    reads: str,
) -> None:
    emu.progress = "step"
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    look: dict[str, Callable[[], object]] = {
        "run": lambda: runs.retrieve(run.id, thread_id=user_thread.id),
        "runs": lambda: runs.list(thread_id=user_thread.id),
        "messages": lambda: client.beta.threads.messages.list(thread_id=user_thread.id),
        "steps": lambda: runs.steps.list(run_id=run.id, thread_id=user_thread.id),
    }
    look[reads]()
    assert emu.runs(user_thread.id)[0]["status"] == "in_progress"
    look[reads]()
    assert emu.runs(user_thread.id)[0]["status"] == "completed"


def test_step_mode_poll_helpers_only_sleep_zero(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    sleeps: list[float],
) -> None:
    emu.progress = "step"
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert run.status == "completed"
    assert sleeps == [0.0]  # saw in_progress once, slept the advertised 0 ms, saw completed


def test_progress_is_checked() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="'resting' or 'step'"):
        emu.progress = "fast"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="'queued' or 'in_progress'"):
        emu.hold("requires_action")  # type: ignore[arg-type]


# --- holds -----------------------------------------------------------------------------------


@pytest.mark.parametrize("at", ["queued", "in_progress"])
def test_a_held_run_waits_until_released(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    sleeps: list[float],
    at: str,
) -> None:
    emu.hold(at)  # type: ignore[arg-type]
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    for _ in range(3):
        assert runs.retrieve(run.id, thread_id=user_thread.id).status == at
    emu.release()
    assert runs.poll(run.id, thread_id=user_thread.id).status == "completed"
    assert sleeps == []


def test_poll_helpers_wait_for_a_release(
    emu: Emulator,
    client: openai.OpenAI,
    user_thread: Thread,
    tool_assistant: Assistant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK's poll loop spins (without sleeping) until the test lets the run go."""
    emu.hold("in_progress")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            emu.release()

    monkeypatch.setattr(time, "sleep", sleep)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=user_thread.id, assistant_id=tool_assistant.id
    )
    assert run.status == "completed"
    assert slept == [0.0, 0.0, 0.0]
    assert run_gets(emu) == 4


def test_holding_and_releasing_one_run(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    threads = [
        client.beta.threads.create(messages=[{"role": "user", "content": str(n)}]) for n in range(3)
    ]
    runs = client.beta.threads.runs
    emu.hold("queued")  # every run
    first, second = (
        runs.create(thread_id=t.id, assistant_id=tool_assistant.id) for t in threads[:2]
    )
    emu.release(first.id)  # exempt one run from the hold on all runs
    assert runs.retrieve(first.id, thread_id=threads[0].id).status == "completed"
    assert runs.retrieve(second.id, thread_id=threads[1].id).status == "queued"
    emu.release()
    emu.hold("in_progress", run_id=second.id)  # hold just this run, a step further
    assert runs.retrieve(second.id, thread_id=threads[1].id).status == "in_progress"
    third = runs.create_and_poll(thread_id=threads[2].id, assistant_id=tool_assistant.id)
    assert third.status == "completed"
    emu.release(second.id)
    assert runs.retrieve(second.id, thread_id=threads[1].id).status == "completed"


def test_holds_and_step_mode_combine(
    emu: Emulator, client: openai.OpenAI, user_thread: Thread, tool_assistant: Assistant
) -> None:
    emu.progress = "step"
    emu.hold("in_progress")
    runs = client.beta.threads.runs
    run = runs.create(thread_id=user_thread.id, assistant_id=tool_assistant.id)
    statuses = [runs.retrieve(run.id, thread_id=user_thread.id).status for _ in range(3)]
    emu.release()
    statuses += [runs.retrieve(run.id, thread_id=user_thread.id).status for _ in range(2)]
    assert statuses == ["in_progress"] * 3 + ["completed"] * 2
