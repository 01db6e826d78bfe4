"""The prompt index runs keep per thread: it truncates exactly like the plain thread whatever
happened before (appends, deletes, other budgets), counts only what a walk reaches and then only
what is new, and is never reused for a thread it no longer matches (a delete during a turn, a
cancel, a snapshot restored while a turn was computing)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError
from typing import Any

import openai
import pytest
from conftest import WAIT, Gate, WordCounter
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import ContextMessage, Emulator, RunContext, reply
from emulator.engine.prompt_index import _BLOCK as BLOCK
from emulator.engine.prompt_sources import kept_account, kept_accounts
from emulator.engine.thread_prompt import (
    THREAD_READER,
    context_messages,
    context_view,
    whole_prompt,
)
from emulator.engine.tokens import counter_for_encoding
from emulator.engine.truncation import (
    MessageAccount,
    PromptIndex,
    PromptMessage,
    TruncationStrategy,
    select,
    truncate,
)
from emulator.engine.turn import SHORT_THREAD

FIXED = 5
O200K = counter_for_encoding("o200k_base")


class Words:
    """A word counter (a token is a word), cheap enough for many examples."""

    def count(self, text: str) -> int:
        return len(text.split())

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def words(tag: str, n: int) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


# --- the index truncates like the plain thread -----------------------------------------------

appended = st.lists(
    st.tuples(st.sampled_from(["user", "assistant"]), st.integers(0, 40)), min_size=1, max_size=12
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), appended),
        st.tuples(st.just("delete"), st.integers(0, 10**6)),
        st.tuples(
            st.just("truncate"),
            st.tuples(
                st.integers(0, 900),  # budget
                st.one_of(st.none(), st.integers(1, 40)),  # last_messages
                st.lists(st.integers(0, 30), max_size=3),  # the run's tool exchanges
            ),
        ),
    ),
    max_size=14,
)


@settings(max_examples=300, deadline=None)
@given(operations=operations)
def test_an_index_truncates_like_the_plain_thread(operations: list[tuple[str, Any]]) -> None:
    """Whatever the index went through (appends, deletes, walks of other budgets that grew and
    moved its counted window), a truncation over it equals the one over the plain thread."""
    counter = Words()
    index = PromptIndex(counter)
    thread: list[PromptMessage] = []
    made = 0
    for kind, argument in [*operations, ("truncate", (300, None, []))]:
        if kind == "append":
            for role, size in argument:
                thread.append(PromptMessage(f"m{made}", role, " ".join(["w"] * size)))
                made += 1
        elif kind == "delete" and thread:
            del thread[argument % len(thread)]
        elif kind == "truncate":
            budget, last, sizes = argument
            by_id = {m.id: m for m in thread}
            index.sync([m.id for m in thread], by_id.__getitem__)
            extra = [
                PromptMessage(f"call_{i}", "tool", "x " * size, atomic=True)
                for i, size in enumerate(sizes)
            ]
            strategy = (
                TruncationStrategy() if last is None else TruncationStrategy("last_messages", last)
            )
            options = {"counter": counter, "budget": budget, "fixed_tokens": FIXED}
            indexed = select(index, extra=extra, strategy=strategy, **options)
            plain = truncate([*thread, *extra], strategy=strategy, **options)
            assert indexed.report == plain
            assert indexed.report.accounts() == plain.accounts()
            assert_pieces(index, indexed.pieces, plain.visible)


def assert_pieces(
    index: PromptIndex[PromptMessage],
    pieces: tuple[tuple[int, int], ...],
    visible: tuple[MessageAccount, ...],
) -> None:
    """The pieces cover the visible positions in order; kept ones are the index's views."""
    assert [p for lo, hi in pieces for p in range(lo, hi)] == [a.position for a in visible]
    by_position = {a.position: a for a in visible}
    for lo, hi in pieces:
        whole = min(hi, len(index))
        if lo < whole and by_position[lo].fate == "kept":
            kept = [by_position[p] for p in range(lo, whole)]
            assert index.views(lo, whole) == [PromptMessage(a.id, a.role, a.text) for a in kept]


@settings(max_examples=300, deadline=None)
@given(
    thread=st.lists(
        st.tuples(st.sampled_from(["user", "assistant"]), st.integers(0, 30)),
        max_size=SHORT_THREAD,
    ),
    budget=st.integers(0, 400),
    last=st.one_of(st.none(), st.integers(1, SHORT_THREAD + 2)),
    sizes=st.lists(st.integers(0, 30), max_size=3),
)
def test_a_short_thread_read_whole_is_what_select_gives(
    thread: list[tuple[str, int]], budget: int, last: int | None, sizes: list[int]
) -> None:
    """A short thread's turn skips the index when all of it fits: its report and the messages
    the responder sees are exactly the index's; when anything has to go, it leaves the prompt
    to `select`."""
    counter = Words()
    stored = [
        {
            "id": f"msg_{i}",
            "role": role,
            "content": [{"type": "text", "text": {"value": words("w", size)}}],
        }
        for i, (role, size) in enumerate(thread)
    ]
    extra = [
        PromptMessage(f"call_{i}", "tool", words("x", size), atomic=True)
        for i, size in enumerate(sizes)
    ]
    strategy = TruncationStrategy() if last is None else TruncationStrategy("last_messages", last)
    index = PromptIndex(counter, THREAD_READER)
    index.extend([m["id"] for m in stored], stored)
    options = {"counter": counter, "budget": budget, "fixed_tokens": FIXED}
    selection = select(index, extra=extra, strategy=strategy, **options)

    whole = whole_prompt(stored, counter, budget, FIXED, strategy, extra)

    report = selection.report
    everything = report.fits and not report.dropped_ids and not report.shortened
    assert (whole is not None) == everything
    if whole is not None:
        assert whole[0] == report
        assert whole[1] == context_messages(index, selection)


@pytest.mark.parametrize("first_budget", [0, 60, 10_000])
@pytest.mark.parametrize("deleted", [0, 4, 9])
def test_an_index_follows_a_delete_after_any_walk(first_budget: int, deleted: int) -> None:
    """A walk leaves the counted window anywhere (empty at the top when nothing had room);
    a delete below, inside or at the top of it, then a walk with no new message."""
    counter = Words()
    thread = long_thread(10)
    index = PromptIndex(counter)
    index.sync([m.id for m in thread], {m.id: m for m in thread}.__getitem__)
    truncate(index, counter=counter, budget=first_budget, fixed_tokens=FIXED)
    del thread[deleted]
    index.sync([m.id for m in thread], {m.id: m for m in thread}.__getitem__)
    for budget in (100, 10_000):
        options = {"counter": counter, "budget": budget, "fixed_tokens": FIXED}
        assert truncate(index, **options) == truncate(thread, **options)


@pytest.mark.parametrize("budget", [0, 40, 700, 6_000, 10**6])
@pytest.mark.parametrize("last", [None, 50])
def test_an_index_counting_with_tiktoken_truncates_like_the_plain_thread(
    budget: int, last: int | None
) -> None:
    """With a TiktokenCounter the index counts its blocks in one pass (count_many); the same
    prompt as the plain thread, on a fresh index and on one that walked other budgets before."""
    texts = ["Hello there", "Bonjour 😀 le monde", "", "hello there", "x " * 30, "ok"]
    thread = [
        PromptMessage(f"msg_{i}", "user" if i % 3 else "assistant", f"{texts[i % 6]} {i % 7}")
        for i in range(600)
    ]
    by_id = {m.id: m for m in thread}
    strategy = TruncationStrategy() if last is None else TruncationStrategy("last_messages", last)
    options = {"counter": O200K, "budget": budget, "fixed_tokens": FIXED, "strategy": strategy}
    plain = truncate(thread, **options)
    walked = PromptIndex(O200K)
    walked.sync([m.id for m in thread], by_id.__getitem__)
    for other in (900, 50, 3_000):
        truncate(walked, **{**options, "budget": other})
    for index in (PromptIndex(O200K), walked):
        index.sync([m.id for m in thread], by_id.__getitem__)
        assert truncate(index, **options) == plain


# --- what the index counts -------------------------------------------------------------------


def long_thread(size: int) -> list[PromptMessage]:
    return [
        PromptMessage(f"msg_{i}", "user" if i % 2 == 0 else "assistant", words(f"t{i}_", 10))
        for i in range(size)
    ]


def test_an_index_counts_the_walk_once_then_only_what_is_new() -> None:
    thread = long_thread(10_000)
    by_id = {m.id: m for m in thread}
    counter = WordCounter()
    index = PromptIndex(counter)
    index.sync([m.id for m in thread], by_id.__getitem__)
    assert counter.counted == []  # appending reads roles, counts nothing
    budget = FIXED + 20 * (4 + 10) + 5  # 20 messages fit, the 21st has 5 tokens of room

    report = truncate(index, counter=counter, budget=budget, fixed_tokens=FIXED)
    assert report == truncate(thread, counter=Words(), budget=budget, fixed_tokens=FIXED)
    first = texts(counter)  # what the walk reached, each once, and at most a block below it
    reached = {words(f"t{i}_", 10) for i in (0, 1, *range(9_979, 10_000))}
    assert len(set(first)) == len(first) <= len(reached) + BLOCK
    assert reached <= set(first)

    thread += [
        PromptMessage("msg_new_a", "assistant", "sure"),
        PromptMessage("msg_new_u", "user", "and?"),
    ]
    by_id.update({m.id: m for m in thread[-2:]})
    index.sync([m.id for m in thread], by_id.__getitem__)
    again = truncate(index, counter=counter, budget=budget, fixed_tokens=FIXED)
    assert again == truncate(thread, counter=Words(), budget=budget, fixed_tokens=FIXED)
    assert sorted(texts(counter)) == ["and?", "sure"]  # only the two new ones, each once

    wide = budget + 2 * BLOCK * (4 + 10)  # room for more than what the first walk counted
    wider = truncate(index, counter=counter, budget=wide, fixed_tokens=FIXED)
    assert wider == truncate(thread, counter=Words(), budget=wide, fixed_tokens=FIXED)
    older = texts(counter)  # only the older messages the wider walk reaches, each once
    assert older and not set(older) & {*first, "and?", "sure"}
    assert len(set(older)) == len(older) <= len(wider.visible) - len(again.visible) + 1 + BLOCK


def texts(counter: WordCounter) -> list[str]:
    """The message texts ``counter`` counted since the last call (not roles, not "")."""
    found = [t for t in counter.counted if t not in ("user", "assistant", "")]
    counter.counted.clear()
    return found


def test_a_kept_account_is_a_frozen_message_account() -> None:
    account = kept_account("msg_1", "user", "Hi there", 7, 3)
    same = MessageAccount("msg_1", "user", "kept", 7, 7, "Hi there", 3)
    assert (account, hash(account), repr(account)) == (same, hash(same), repr(same))
    with pytest.raises(FrozenInstanceError):
        account.tokens = 8  # type: ignore[misc]


def test_kept_accounts_are_built_column_by_column() -> None:
    built = kept_accounts(["m1", "m2"], ["user", "assistant"], ["Hi", ""], [5, 3], 7)
    assert built == [
        MessageAccount("m1", "user", "kept", 5, 5, "Hi", 7),
        MessageAccount("m2", "assistant", "kept", 3, 3, "", 8),
    ]
    assert kept_accounts([], [], [], [], 0) == []


# --- in runs: one index per thread, never a stale one ----------------------------------------


@pytest.fixture
def gate() -> Iterator[Gate]:
    opened = Gate()
    yield opened
    opened.open()


def answering(emu: Emulator, *, first_waits_at: Gate | None = None) -> list[RunContext]:
    """What the model is shown, one RunContext per turn; every turn answers "ok", the first
    after waiting at ``first_waits_at``."""
    contexts: list[RunContext] = []

    def respond(context: RunContext) -> reply.Reply:
        contexts.append(context)
        if first_waits_at is not None and len(contexts) == 1:
            first_waits_at.through()
        return reply.text("ok")

    emu.respond_with(respond)
    return contexts


def texts_of(context: RunContext) -> list[str]:
    return [m.text for m in context.messages]


def test_runs_on_a_thread_share_what_the_model_is_shown(
    emu: Emulator, client: openai.OpenAI
) -> None:
    contexts = answering(emu)
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": f"message {i}"} for i in range(50)]
    )
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    client.beta.threads.update(thread.id, metadata={"topic": "numbers"})
    client.beta.threads.messages.create(thread.id, role="user", content="more")
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)

    first, second = contexts
    assert texts_of(second) == [*(f"message {i}" for i in range(50)), "ok", "more"]
    # each message the model is shown is built once, then shared by the runs that show it
    assert all(a is b for a, b in zip(first.messages, second.messages, strict=False))
    assert isinstance(second.messages[-1], ContextMessage)


def test_a_message_deleted_during_a_turn_is_not_shown_to_the_next(
    emu: Emulator, client: openai.OpenAI, gate: Gate
) -> None:
    contexts = answering(emu, first_waits_at=gate)
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": text} for text in ("a", "b", "c")]
    )
    b = client.beta.threads.messages.list(thread.id, order="asc").data[1]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            client.beta.threads.runs.create_and_poll, thread_id=thread.id, assistant_id=asst.id
        )
        assert gate.reached.wait(WAIT), "the run never reached its model turn"
        client.beta.threads.messages.delete(b.id, thread_id=thread.id)
        gate.open()
        assert running.result(timeout=WAIT).status == "completed"
    client.beta.threads.messages.create(thread.id, role="user", content="d")
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert [texts_of(c) for c in contexts] == [["a", "b", "c"], ["a", "c", "ok", "d"]]


def test_after_a_turn_cancelled_midway_the_next_run_counts_the_whole_thread(
    emu: Emulator, client: openai.OpenAI, gate: Gate
) -> None:
    contexts = answering(emu, first_waits_at=gate)
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": f"question {i}"} for i in range(3)]
    )
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            client.beta.threads.runs.create, thread_id=thread.id, assistant_id=asst.id
        )
        assert gate.reached.wait(WAIT), "the run never reached its model turn"
        cancelled = client.beta.threads.runs.cancel(
            running_run(emu, thread.id), thread_id=thread.id
        )
        gate.open()
        running.result(timeout=WAIT)
    assert cancelled.status == "cancelling"
    client.beta.threads.messages.create(thread.id, role="user", content="again")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)

    shown = ["question 0", "question 1", "question 2", "again"]
    assert texts_of(contexts[-1]) == shown
    assert run.usage is not None
    assert (
        run.usage.prompt_tokens == sum(3 + O200K.count("user") + O200K.count(t) for t in shown) + 3
    )


def test_a_snapshot_loaded_during_a_turn_leaves_no_stale_prompt(
    emu: Emulator, client: openai.OpenAI, gate: Gate
) -> None:
    """Loading a snapshot brings back its id sequence, so a message created after it can
    reuse the id of one the interrupted turn had read, with other content."""
    contexts = answering(emu, first_waits_at=gate)
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first"}])
    saved = emu.snapshot()
    alpha = client.beta.threads.messages.create(thread.id, role="user", content="alpha")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            client.beta.threads.runs.create, thread_id=thread.id, assistant_id=asst.id
        )
        assert gate.reached.wait(WAIT), "the run never reached its model turn"
        emu.load(saved)
        gate.open()
        running.result(timeout=WAIT)

    beta = client.beta.threads.messages.create(thread.id, role="user", content="beta")
    assert beta.id == alpha.id  # the same id, other content
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert [texts_of(c) for c in contexts] == [["first", "alpha"], ["first", "beta"]]


def running_run(emu: Emulator, thread_id: str) -> str:
    [run] = [r for r in emu.runs(thread_id) if r["status"] == "in_progress"]
    run_id: str = run["id"]
    return run_id


def test_a_thread_view_is_a_context_message() -> None:
    view = context_view("msg_1", "user", "Hi there")
    same = ContextMessage("msg_1", "user", "Hi there")
    assert (view, hash(view), repr(view), vars(view)) == (same, hash(same), repr(same), vars(same))
    with pytest.raises(FrozenInstanceError):
        view.text = "changed"  # type: ignore[misc]
