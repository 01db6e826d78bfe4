"""Concurrency: many OS threads and asyncio tasks on one emulator lose nothing, break nothing.

Clients never retry here (`max_retries=0`), so a lost or failed request cannot hide behind a
second attempt. Every test ends with `check_invariants() == []` and exact counts; races on the
active-run rule keep the winning run `queued` with `emu.hold("queued")` while they last.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import openai
import pytest
from conftest import WAIT, Gate
from openai.types.beta import Assistant

from emulator import Emulator, RunContext, reply
from emulator.engine.reply import Reply
from emulator.state.lock import StoreLock

WORKERS = 8
PER_WORKER = 25
LOOKUP_TOOL = {"type": "function", "function": {"name": "lookup"}}
T = TypeVar("T")


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Switch OS threads every few microseconds instead of every 5 ms, so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.fixture
def sdk(client: openai.OpenAI) -> openai.OpenAI:
    return client.with_options(max_retries=0)


@pytest.fixture
def async_sdk(async_client: openai.AsyncOpenAI) -> openai.AsyncOpenAI:
    return async_client.with_options(max_retries=0)


@pytest.fixture
def assistant(sdk: openai.OpenAI) -> Assistant:
    return sdk.beta.assistants.create(model="gpt-4o", instructions="Answer.", tools=[LOOKUP_TOOL])


def lookup_then_answer(context: RunContext) -> Reply:
    """Call `lookup` with the user's words, then answer with the looked-up output."""
    if context.new_tool_outputs:
        return reply.text(f"found {context.new_tool_outputs[0].output}")
    return reply.tool_call("lookup", {"q": context.last_user_message})


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """`work(0..count-1)` on `count` OS threads released together by a barrier."""
    barrier = threading.Barrier(count, timeout=30)

    def start_together(n: int) -> T:
        barrier.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start_together, range(count)))


def message_of(error: openai.APIStatusError) -> str:
    """The error's `message` field (2.x puts more into `error.message`)."""
    assert isinstance(error.body, dict)
    text: str = error.body["message"]
    return text


def text_of(message: dict[str, Any]) -> str:
    value: str = message["content"][0]["text"]["value"]
    return value


# --- nothing lost ----------------------------------------------------------------------------


def test_messages_posted_from_many_threads_to_one_thread_are_all_kept(
    emu: Emulator, sdk: openai.OpenAI
) -> None:
    thread = sdk.beta.threads.create()

    def post(worker: int) -> list[str]:
        return [
            sdk.beta.threads.messages.create(
                thread_id=thread.id, role="user", content=f"{worker}-{n}"
            ).id
            for n in range(PER_WORKER)
        ]

    sent = [message_id for batch in in_threads(WORKERS, post) for message_id in batch]

    stored = emu.messages(thread.id)
    assert len(set(sent)) == len(sent) == len(stored) == WORKERS * PER_WORKER
    assert {m["id"] for m in stored} == set(sent)
    for worker in range(WORKERS):  # each worker's messages keep the order it sent them in
        mine = [text_of(m) for m in stored if text_of(m).startswith(f"{worker}-")]
        assert mine == [f"{worker}-{n}" for n in range(PER_WORKER)]
    listed = sdk.beta.threads.messages.list(thread_id=thread.id, order="asc", limit=100)
    assert [m.id for m in listed] == [m["id"] for m in stored]  # two pages, same order
    assert emu.check_invariants() == []


def test_tool_call_workflows_on_separate_threads_all_complete(
    emu: Emulator, sdk: openai.OpenAI, assistant: Assistant
) -> None:
    emu.respond_with(lookup_then_answer)

    def workflow(worker: int) -> tuple[str, str]:
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": f"q{worker}"}])
        run = sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
        assert run.status == "requires_action" and run.required_action is not None
        [call] = run.required_action.submit_tool_outputs.tool_calls
        assert call.function.arguments == f'{{"q":"q{worker}"}}'
        run = sdk.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": f"a{worker}"}],
        )
        assert run.status == "completed"
        return thread.id, run.id

    finished = in_threads(WORKERS, workflow)

    assert len(emu.threads) == WORKERS
    for worker, (thread_id, run_id) in enumerate(finished):
        assert [text_of(m) for m in emu.messages(thread_id)] == [f"q{worker}", f"found a{worker}"]
        [run] = emu.runs(thread_id)
        assert (run["id"], run["status"]) == (run_id, "completed")
        assert [s["type"] for s in emu.steps(run_id)] == ["tool_calls", "message_creation"]
    assert emu.check_invariants() == []


def test_every_request_from_many_threads_is_recorded(emu: Emulator, sdk: openai.OpenAI) -> None:
    def create(worker: int) -> list[str]:
        return [sdk.beta.assistants.create(model="gpt-4o", name=f"{worker}").id for _ in range(5)]

    ids = [i for batch in in_threads(WORKERS, create) for i in batch]

    assert sorted(emu.assistants) == sorted(ids)
    assert len(emu.requests) == WORKERS * 5
    assert all(r.status == 200 for r in emu.requests)


@pytest.mark.usefixtures("eager_switching")
def test_reads_never_see_a_half_modified_object(emu: Emulator, sdk: openai.OpenAI) -> None:
    """Each update sets `name` and `metadata` together; a read sees both old or both new."""
    assistant = sdk.beta.assistants.create(model="gpt-4o", name="v0", metadata={"v": "0"})

    def work(worker: int) -> list[tuple[str | None, str]]:
        seen: list[tuple[str | None, str]] = []
        for n in range(20):
            if worker % 2:
                version = str(worker * 100 + n)
                wide = {f"key{k}": version for k in range(15)}
                sdk.beta.assistants.update(
                    assistant.id, name=f"v{version}", metadata={"v": version, **wide}
                )
            else:
                found = sdk.beta.assistants.retrieve(assistant.id)
                Assistant.model_validate(found.model_dump())
                seen.append((found.name, f"v{(found.metadata or {})['v']}"))
        return seen

    reads = [pair for batch in in_threads(WORKERS, work) for pair in batch]

    assert len(reads) == WORKERS // 2 * 20
    assert all(name == expected for name, expected in reads)
    assert emu.check_invariants() == []


# --- the active-run rule under races ---------------------------------------------------------


@pytest.mark.parametrize("racers", [2, 8, 16])
def test_exactly_one_of_racing_runs_wins_the_thread(
    emu: Emulator, sdk: openai.OpenAI, assistant: Assistant, racers: int
) -> None:
    emu.hold("queued")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    def create_run(_: int) -> str | openai.BadRequestError:
        try:
            return sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id).id
        except openai.BadRequestError as error:
            return error

    outcomes = in_threads(racers, create_run)

    [winner] = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, openai.BadRequestError)]
    assert len(losers) == racers - 1
    for error in losers:
        assert error.status_code == 400
        assert message_of(error) == f"Thread {thread.id} already has an active run {winner}."
    assert [(r["id"], r["status"]) for r in emu.runs(thread.id)] == [(winner, "queued")]
    assert emu.check_invariants() == []

    emu.release()
    run = sdk.beta.threads.runs.poll(run_id=winner, thread_id=thread.id)
    assert run.status == "completed"
    assert emu.check_invariants() == []


def test_racing_runs_and_messages_on_one_thread_keep_the_rule(
    emu: Emulator, sdk: openai.OpenAI, assistant: Assistant
) -> None:
    """Half the racers start a run, half add a message: messages land only before the run."""
    emu.hold("queued")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    def act(n: int) -> str | openai.BadRequestError:
        try:
            if n % 2:
                return sdk.beta.threads.runs.create(
                    thread_id=thread.id, assistant_id=assistant.id
                ).id
            return sdk.beta.threads.messages.create(
                thread_id=thread.id, role="user", content=f"m{n}"
            ).id
        except openai.BadRequestError as error:
            return error

    outcomes = in_threads(2 * WORKERS, act)

    [winner] = [o for o in outcomes if isinstance(o, str) and o.startswith("run_")]
    added = {o for o in outcomes if isinstance(o, str) and o.startswith("msg_")}
    rejected = [o for o in outcomes if isinstance(o, openai.BadRequestError)]
    assert len(added) + len(rejected) == 2 * WORKERS - 1
    for error in rejected:
        assert message_of(error) in (
            f"Can't add messages to {thread.id} while a run {winner} is active.",
            f"Thread {thread.id} already has an active run {winner}.",
        )
    stored = [m["id"] for m in emu.messages(thread.id)]
    assert set(stored[1:]) == added  # the first is the thread's own message
    assert emu.check_invariants() == []


def test_racing_runs_on_separate_threads_all_start(
    emu: Emulator, sdk: openai.OpenAI, assistant: Assistant
) -> None:
    emu.hold("queued")
    threads = [
        sdk.beta.threads.create(messages=[{"role": "user", "content": f"{n}"}]).id
        for n in range(WORKERS)
    ]

    def create_run(n: int) -> str:
        return sdk.beta.threads.runs.create(thread_id=threads[n], assistant_id=assistant.id).id

    run_ids = in_threads(WORKERS, create_run)

    assert [[r["id"] for r in emu.runs(t)] for t in threads] == [[r] for r in run_ids]
    assert emu.check_invariants() == []


# --- asyncio ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_many_tasks_on_shared_and_separate_threads(
    emu: Emulator, async_sdk: openai.AsyncOpenAI
) -> None:
    tasks = 40
    assistant = await async_sdk.beta.assistants.create(model="gpt-4o", instructions="Echo.")
    shared = await async_sdk.beta.threads.create()

    async def work(n: int) -> tuple[str, str]:
        await async_sdk.beta.threads.messages.create(
            thread_id=shared.id, role="user", content=f"shared {n}"
        )
        own = await async_sdk.beta.threads.create(
            messages=[{"role": "user", "content": f"own {n}"}]
        )
        run = await async_sdk.beta.threads.runs.create_and_poll(
            thread_id=own.id, assistant_id=assistant.id
        )
        assert run.status == "completed"
        return own.id, run.id

    finished = await asyncio.gather(*(work(n) for n in range(tasks)))

    assert sorted(text_of(m) for m in emu.messages(shared.id)) == sorted(
        f"shared {n}" for n in range(tasks)
    )
    for n, (thread_id, run_id) in enumerate(finished):
        texts = [text_of(m) for m in emu.messages(thread_id)]
        assert texts == [f"own {n}", f"You said: own {n}"]
        assert [r["id"] for r in emu.runs(thread_id)] == [run_id]
    assert len(emu.threads) == tasks + 1
    assert emu.check_invariants() == []


@pytest.mark.anyio
async def test_exactly_one_of_racing_async_runs_wins(
    emu: Emulator, async_sdk: openai.AsyncOpenAI
) -> None:
    emu.hold("queued")
    assistant = await async_sdk.beta.assistants.create(model="gpt-4o", instructions="Echo.")
    thread = await async_sdk.beta.threads.create()

    async def create_run() -> str | openai.BadRequestError:
        try:
            run = await async_sdk.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id
            )
            return run.id
        except openai.BadRequestError as error:
            return error

    outcomes = await asyncio.gather(*(create_run() for _ in range(20)))

    [winner] = [o for o in outcomes if isinstance(o, str)]
    assert sum(isinstance(o, openai.BadRequestError) for o in outcomes) == 19
    assert emu.runs(thread.id)[0]["id"] == winner
    assert emu.check_invariants() == []


def test_event_loops_in_several_threads_share_one_emulator(emu: Emulator) -> None:
    """Async clients on their own loops, in their own OS threads, at the same time."""

    async def work(worker: int) -> list[str]:
        async with openai.AsyncOpenAI(api_key="sk-test", max_retries=0) as sdk:
            thread = await sdk.beta.threads.create()
            created = await asyncio.gather(
                *(
                    sdk.beta.threads.messages.create(
                        thread_id=thread.id, role="user", content=f"{worker}-{n}"
                    )
                    for n in range(10)
                )
            )
            return [thread.id, *(m.id for m in created)]

    results = in_threads(4, lambda worker: asyncio.run(work(worker)))

    for thread_id, *message_ids in results:
        assert sorted(m["id"] for m in emu.messages(thread_id)) == sorted(message_ids)
    assert emu.check_invariants() == []


# --- no global freeze: a slow model turn blocks nothing else ---------------------------------


class GatedCounter:
    """Counts words; counting a text with "SLOW" in it waits at the gate (a slow tokenizer)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def count(self, text: str) -> int:
        if "SLOW" in text:
            self.gate.through()
        return len(text.split())

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


@pytest.fixture(params=["in-process", "server"])
def api(request: pytest.FixtureRequest, emu: Emulator) -> Iterator[openai.OpenAI]:
    """An SDK client of `emu`: in-process, or over real HTTP (the plugin's ThreadedServer)."""
    if request.param == "in-process":
        with openai.OpenAI(api_key="sk-test", max_retries=0) as sdk:
            yield sdk
        return
    server = request.getfixturevalue("assistants_emulator_server")
    with openai.OpenAI(
        api_key="sk-test", base_url=server.base_url, max_retries=0, timeout=WAIT
    ) as sdk:
        yield sdk


@pytest.fixture(params=["responder", "token counter"])
def slow_turn(request: pytest.FixtureRequest, emu: Emulator) -> Iterator[tuple[str, Gate]]:
    """(assistant name, gate): runs of that assistant block at the gate, in their responder or
    in counting their prompt, until the test opens it."""
    gate = Gate()
    if request.param == "responder":
        emu.respond_with(lambda context: gate.through() or reply.text("late"), assistant="slow")
    else:
        emu.use_counter(GatedCounter(gate))
    yield "slow", gate
    gate.open()


def start_blocked_run(
    api: openai.OpenAI, pool: ThreadPoolExecutor, gate: Gate, thread_id: str, assistant_id: str
) -> Any:
    """Create a run in the background and wait until its model turn sits at the gate."""
    future = pool.submit(
        api.beta.threads.runs.create, thread_id=thread_id, assistant_id=assistant_id
    )
    assert gate.reached.wait(WAIT), "the run never reached its model turn"
    return future


def test_a_slow_model_turn_blocks_no_request_about_other_objects(
    emu: Emulator, api: openai.OpenAI, slow_turn: tuple[str, Gate]
) -> None:
    name, gate = slow_turn
    slow = api.beta.assistants.create(model="gpt-4o", name=name)
    quick = api.beta.assistants.create(model="gpt-4o", name="quick")
    busy = api.beta.threads.create(messages=[{"role": "user", "content": "SLOW " * 1000}])
    other = api.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    with ThreadPoolExecutor(2) as pool:
        blocked = start_blocked_run(api, pool, gate, busy.id, slow.id)

        def meanwhile() -> tuple[list[str], list[str], str]:
            assistants = [a.id for a in api.beta.assistants.list()]
            messages = [m.id for m in api.beta.threads.messages.list(thread_id=other.id)]
            run = api.beta.threads.runs.create_and_poll(
                thread_id=other.id, assistant_id=quick.id, poll_interval_ms=0
            )
            return assistants, messages, run.status

        assistants, messages, status = pool.submit(meanwhile).result(timeout=WAIT)
        assert not blocked.done()  # the slow turn is still waiting at the gate
        gate.open()
        assert blocked.result(timeout=WAIT).status == "queued"

    assert assistants == [quick.id, slow.id]
    assert len(messages) == 1
    assert status == "completed"
    assert [r["status"] for r in emu.runs(busy.id)] == ["completed"]
    assert emu.check_invariants() == []


def test_a_cancel_during_a_slow_turn_ends_the_run_cancelled_and_drops_the_late_reply(
    emu: Emulator, api: openai.OpenAI, slow_turn: tuple[str, Gate]
) -> None:
    name, gate = slow_turn
    slow = api.beta.assistants.create(model="gpt-4o", name=name)
    busy = api.beta.threads.create(messages=[{"role": "user", "content": "SLOW question"}])

    with ThreadPoolExecutor(1) as pool:
        blocked = start_blocked_run(api, pool, gate, busy.id, slow.id)
        run_id = emu.runs(busy.id)[0]["id"]
        assert emu.runs(busy.id)[0]["status"] == "in_progress"
        cancelling = api.beta.threads.runs.cancel(run_id, thread_id=busy.id)
        cancelled = api.beta.threads.runs.retrieve(run_id, thread_id=busy.id)
        gate.open()
        blocked.result(timeout=WAIT)

    assert (cancelling.status, cancelled.status) == ("cancelling", "cancelled")
    [stored] = emu.runs(busy.id)
    assert stored["status"] == "cancelled"
    assert stored["usage"]["total_tokens"] == 0
    assert [m["role"] for m in emu.messages(busy.id)] == ["user"]  # no late reply
    assert emu.steps(run_id) == []
    assert emu.truncation(run_id) == []
    assert emu.check_invariants() == []
    # the thread is free again, and its next run answers
    run = api.beta.threads.runs.create_and_poll(
        thread_id=busy.id, assistant_id=slow.id, poll_interval_ms=0
    )
    assert run.status == "completed"


def test_fifty_creates_racing_a_model_turn_on_one_thread_make_one_run(
    emu: Emulator, sdk: openai.OpenAI, eager_switching: None
) -> None:
    """The winner's turn runs without the store lock while the others race: still one run."""
    gate = Gate()
    emu.respond_with(lambda context: gate.through() or reply.text("done"))
    assistant = sdk.beta.assistants.create(model="gpt-4o")
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    refused: list[openai.BadRequestError] = []
    all_refused = threading.Event()

    def create_run(_: int) -> str | openai.BadRequestError:
        try:
            return sdk.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id).id
        except openai.BadRequestError as error:
            refused.append(error)
            if len(refused) == 49:
                all_refused.set()
            return error

    with ThreadPoolExecutor(1) as pool:
        racing = pool.submit(in_threads, 50, create_run)
        assert gate.reached.wait(WAIT)
        assert all_refused.wait(WAIT)  # while the winner's turn waits at the gate
        gate.open()
        outcomes = racing.result(timeout=WAIT * 3)

    [winner] = [o for o in outcomes if isinstance(o, str)]
    assert sum(isinstance(o, openai.BadRequestError) for o in outcomes) == 49
    assert [(r["id"], r["status"]) for r in emu.runs(thread.id)] == [(winner, "completed")]
    assert emu.check_invariants() == []


def test_the_store_lock_is_reentrant_and_its_holder_can_step_out() -> None:
    lock = StoreLock()
    taken_meanwhile = threading.Event()

    def take() -> None:
        with lock:
            taken_meanwhile.set()

    with lock, lock:
        assert lock.held()
        with lock.released():
            assert not lock.held()
            other = threading.Thread(target=take)
            other.start()
            assert taken_meanwhile.wait(WAIT)
            other.join(WAIT)
        assert lock.held()  # held again, as deeply: two releases to let go
        lock.release()
        assert lock.held()
        lock.acquire()
    assert not lock.held()
    with lock.released():  # not held: the block runs as it is
        assert not lock.held()
