"""Snapshots and fixtures: the whole state as JSON, restored exactly, and shipped fixtures."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run

from emulator import Emulator, ModelInfo, reply

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "emulator" / "examples"  # shipped in the package; fixtures/ rebuilds them
TOOLS: list[Any] = [{"type": "function", "function": {"name": "lookup_order"}}]


def busy_state(emu: Emulator, client: openai.OpenAI) -> dict[str, str]:
    """A state with something of everything: finished and waiting runs, tool results,
    truncation reports, a registered model, a hold, key ownership and a moved clock."""
    emu.register_model(
        ModelInfo("tiny", context_window=400, max_output_tokens=100, encoding="o200k_base")
    )
    emu.script(
        reply.tool_call("lookup_order", {"id": 7}),
        "Order 7 shipped.",
        reply.tool_call("lookup_order"),
    )
    bot = client.beta.assistants.create(model="tiny", instructions="Be brief.", tools=TOOLS)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Order 7?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    emu.clock.advance(seconds=30)
    client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "shipped"}],
    )
    client.beta.threads.messages.create(thread.id, role="user", content="And order 8?")
    waiting = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
    deleted = client.beta.threads.messages.create(
        client.beta.threads.create().id, role="user", content="x"
    )
    client.beta.threads.messages.delete(deleted.id, thread_id=deleted.thread_id)
    emu.hold("queued", run_id="run_not_yet")
    emu.clock.advance(minutes=2)
    return {"thread": thread.id, "finished": run.id, "waiting": waiting.id, "assistant": bot.id}


def test_a_snapshot_is_json_and_restores_exactly(emu: Emulator, client: openai.OpenAI) -> None:
    ids = busy_state(emu, client)
    data = emu.snapshot()

    copy = Emulator.from_snapshot(json.loads(json.dumps(data)))

    assert copy.snapshot() == data
    assert copy.clock.now() == emu.clock.now()
    assert copy.truncation(ids["finished"]) == emu.truncation(ids["finished"])
    assert copy.settings.holds == emu.settings.holds
    assert copy.settings.models.get("tiny") == emu.settings.models.get("tiny")
    assert copy.check_invariants() == []
    for thread_id in copy.threads:
        assert copy.messages(thread_id) == emu.messages(thread_id)
        assert copy.runs(thread_id) == emu.runs(thread_id)


def test_ids_and_timestamps_continue_the_same_sequence(
    emu: Emulator, client: openai.OpenAI
) -> None:
    busy_state(emu, client)
    copy = Emulator.from_snapshot(emu.snapshot())
    original = client.beta.assistants.with_raw_response.create(model="gpt-4o")
    emu.stop()

    with copy:
        again = client.beta.assistants.with_raw_response.create(model="gpt-4o")

    assert again.parse().id == original.parse().id
    assert again.parse().created_at == original.parse().created_at
    assert again.headers["x-request-id"] == original.headers["x-request-id"]


def test_a_restored_run_resumes_where_it_was(emu: Emulator, client: openai.OpenAI) -> None:
    ids = busy_state(emu, client)
    copy = Emulator.from_snapshot(emu.snapshot())
    emu.stop()

    with copy:
        run = client.beta.threads.runs.retrieve(ids["waiting"], thread_id=ids["thread"])
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        done = client.beta.threads.runs.submit_tool_outputs_and_poll(
            thread_id=ids["thread"],
            run_id=run.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "late"}],
        )

    assert done.status == "completed"  # the default responder answers after tool outputs
    assert done.usage is not None and done.usage.prompt_tokens > 0
    assert len(copy.truncation(run.id)) == 2  # the turn before the snapshot and the one after


def test_expiry_continues_after_a_restore(emu: Emulator, client: openai.OpenAI) -> None:
    ids = busy_state(emu, client)
    copy = Emulator.from_snapshot(emu.snapshot())
    emu.stop()

    with copy:
        copy.clock.advance(minutes=9)
        run = client.beta.threads.runs.retrieve(ids["waiting"], thread_id=ids["thread"])

    assert run.status == "expired"
    assert run.expires_at is not None and run.expires_at - run.created_at == 600


def test_load_accepts_a_path_and_replaces_the_state(
    emu: Emulator, client: openai.OpenAI, tmp_path: Path
) -> None:
    ids = busy_state(emu, client)
    path = tmp_path / "state.json"
    emu.snapshot(path)
    emu.reset()
    stray = client.beta.threads.create()
    script = emu.script("kept")

    emu.load(path)

    assert stray.id not in emu.threads
    assert ids["thread"] in emu.threads
    assert emu.settings.responder is script  # responders are code: loading keeps them
    assert [r.path for r in emu.requests][-1] == "/threads"  # and so is the request log
    assert json.loads(path.read_text()) == emu.snapshot()


@pytest.mark.assistants_emulator(isolate_keys=True)
def test_key_ownership_is_restored(emu: Emulator) -> None:
    alice = openai.OpenAI(api_key="sk-alice")
    thread = alice.beta.threads.create()

    copy = Emulator.from_snapshot(emu.snapshot())
    emu.stop()

    with copy:
        assert copy.settings.isolate_keys
        with pytest.raises(openai.NotFoundError):
            openai.OpenAI(api_key="sk-bob").beta.threads.retrieve(thread.id)
        assert alice.beta.threads.retrieve(thread.id).id == thread.id


def test_from_snapshot_options_override_the_saved_ones(emu: Emulator) -> None:
    data = emu.snapshot()

    copy = Emulator.from_snapshot(data, require_key="sk-only", clock="real")

    assert copy.settings.required_key == "sk-only"
    assert abs(copy.clock.now() - data["clock"]["now"]) <= 1  # the real clock resumes there


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d.update(format="something else"), "not an emulator snapshot"),
        (lambda d: d.update(version=99), "unsupported snapshot version"),
        (lambda d: d.pop("threads"), "malformed snapshot"),
        (
            lambda d: d["assistants"].append({"id": "thread_x", "object": "thread"}),
            r"assistants\[1\]\.object: Input should be 'assistant'",
        ),
        (lambda d: d["threads"][0]["messages"][0].update(thread_id="thread_other"), "inconsistent"),
        (
            lambda d: d["threads"][0]["runs"][0]["run"].update(status="queued"),
            "several active runs",
        ),
        (lambda d: d["ids"]["objects"].update(words="not base64!"), "malformed snapshot"),
        (lambda d: d["settings"].update(progress="fast"), "settings.progress"),
        (lambda d: d["clock"].update(now=float("inf")), "not JSON data"),
        (lambda d: d["clock"].update(now=1e300), r"clock\.now: Input should be a valid integer"),
        (lambda d: d["clock"].update(now=10**20), r"clock\.now: Input should be less than"),
        (lambda d: d["assistants"][0].update(tools="abc"), r"assistants\[0\]\.tools"),
        (lambda d: d["threads"][0]["thread"].update(tool_resources=[]), "tool_resources"),
        (lambda d: d["assistants"][0].update(temperature=float("nan")), "not JSON data"),
        (lambda d: d["assistants"][0].update(created_at="1714000000"), "created_at"),
        (lambda d: d["assistants"][0]["metadata"].update(n=1), "metadata.n"),
        (lambda d: d["threads"][0]["messages"][0].update(content=[{"type": "?"}]), "content"),
        (lambda d: d["threads"][0]["runs"][0]["state"].update(turn="1"), r"state\.turn"),
        (lambda d: d["threads"][0]["runs"][0]["run"].update(required_action=7), "required_act"),
        (lambda d: d["settings"]["models"][0].update(context_window=0), "must be positive"),
        (lambda d: d["ids"].update(objects={**d["ids"]["objects"], "words": "AAAA"}), "ids"),
        (lambda d: d.update(surprise={}), "surprise: Extra inputs are not permitted"),
    ],
)
def test_a_bad_snapshot_is_refused_and_changes_nothing(
    emu: Emulator, client: openai.OpenAI, mangle: Any, message: str
) -> None:
    busy_state(emu, client)
    before = emu.snapshot()
    data = emu.snapshot()
    mangle(data)

    with pytest.raises(ValueError, match=message):
        emu.load(data)

    assert emu.snapshot() == before


# --- shipped fixtures ------------------------------------------------------------------------


def test_the_shipped_fixtures_are_reproducible(tmp_path: Path) -> None:
    build = runpy.run_path(str(ROOT / "fixtures" / "make_fixtures.py"))["build"]

    written = build(tmp_path)

    assert written
    for path in written:
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes(), path.name


@pytest.mark.assistants_emulator(
    snapshot=FIXTURES / "support_bot_expired.json",
    script=FIXTURES / "support_bot_retry_script.json",
)
def test_a_support_conversation_after_its_run_expired(emu: Emulator, client: openai.OpenAI) -> None:
    (thread_id,) = emu.threads
    runs = client.beta.threads.runs.list(thread_id, order="asc").data
    assert [r.status for r in runs] == ["completed", "expired"]
    expired = runs[-1]
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        client.beta.threads.runs.submit_tool_outputs(
            run_id=expired.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "T-1"}],
        )
    (bot_id,) = emu.assistants

    failed = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=bot_id)
    retried = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=bot_id)
    call = retried.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=retried.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "T-1042"}],
    )

    assert failed.status == "failed" and failed.last_error is not None
    assert failed.last_error.code == "rate_limit_exceeded"
    assert (call.function.name, done.status) == ("open_ticket", "completed")
    latest = client.beta.threads.messages.list(thread_id, limit=1).data[0]
    assert latest.content[0].text.value.startswith("I have opened ticket T-1042")  # type: ignore[union-attr]
    Run.model_validate(emu.runs(thread_id)[1])
    Thread.model_validate(client.beta.threads.retrieve(thread_id).model_dump())


@pytest.mark.assistants_emulator(snapshot="examples/long_thread_near_limit.json")
def test_a_long_thread_spills_over_the_context_limit(emu: Emulator, client: openai.OpenAI) -> None:
    (thread_id,) = emu.threads
    (bot_id,) = emu.assistants
    (previous,) = emu.runs(thread_id)
    assert emu.truncation(previous["id"])[0].dropped_ids == ()
    oldest = client.beta.threads.messages.list(thread_id, order="asc", limit=4).data

    client.beta.threads.messages.create(thread_id, role="user", content="Please summarise. " * 60)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=bot_id)

    (report,) = emu.truncation(run.id)
    assert run.status == "completed"
    assert report.fits and report.prompt_tokens <= report.budget
    # auto keeps the first exchange and drops from the middle (issue 11 point 1)
    assert report.beginning_ids == tuple(m.id for m in oldest[:2])
    assert report.dropped_ids[:2] == tuple(m.id for m in oldest[2:])
    assert run.usage is not None and run.usage.prompt_tokens == report.prompt_tokens
    for message in emu.messages(thread_id):
        Message.model_validate(message)
