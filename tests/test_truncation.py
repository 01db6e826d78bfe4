"""Truncation: which messages a run's prompt keeps, shortens or drops within its budget."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import pytest

from emulator.engine.tokens import MESSAGE_OVERHEAD, counter_for_encoding, message_tokens
from emulator.engine.truncation import (
    MIN_SHORTENED,
    PromptMessage,
    TruncationStrategy,
    truncate,
)

FIXED = 10
AUTO = TruncationStrategy()


class WordCounter:
    """A TokenCounter where a token is a word, so budgets are easy to reason about."""

    def __init__(self) -> None:
        self.counted: list[str] = []

    def count(self, text: str) -> int:
        self.counted.append(text)
        return len(text.split())

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def words(tag: str, n: int) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def msg(id: str, role: str, n: int, *, atomic: bool = False) -> PromptMessage:
    return PromptMessage(id=id, role=role, text=words(id, n), atomic=atomic)


def cost(message: PromptMessage) -> int:
    return MESSAGE_OVERHEAD + 1 + len(message.text.split())  # every role is one word


THREAD = [
    msg("m0", "user", 40),
    msg("m1", "assistant", 30),
    msg("m2", "user", 5),
    msg("m3", "assistant", 20),
    msg("m4", "user", 8),
]
NEEDED = FIXED + sum(cost(m) for m in THREAD)


def run(
    messages: Sequence[PromptMessage],
    budget: int,
    strategy: TruncationStrategy = AUTO,
    counter: WordCounter | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(visible ids, their fates, dropped ids) of a truncation."""
    report = truncate(
        messages,
        counter=counter or WordCounter(),
        budget=budget,
        fixed_tokens=FIXED,
        strategy=strategy,
    )
    assert report.prompt_tokens == FIXED + sum(a.tokens for a in report.visible)
    assert report.fits == (report.prompt_tokens <= budget)
    return (
        [a.id for a in report.visible],
        [a.fate for a in report.visible],
        list(report.dropped_ids),
    )


def test_exact_budget_keeps_everything() -> None:
    report = truncate(THREAD, counter=WordCounter(), budget=NEEDED, fixed_tokens=FIXED)
    assert [a.id for a in report.kept] == ["m0", "m1", "m2", "m3", "m4"]
    assert report.dropped_ids == ()
    assert (report.prompt_tokens, report.fits) == (NEEDED, True)


def test_one_token_less_shortens_the_oldest() -> None:
    report = truncate(THREAD, counter=WordCounter(), budget=NEEDED - 1, fixed_tokens=FIXED)
    oldest = report.visible[0]
    assert (oldest.id, oldest.fate) == ("m0", "shortened")
    assert oldest.text == words("m0", 39)
    assert (oldest.tokens, oldest.original_tokens) == (cost(THREAD[0]) - 1, cost(THREAD[0]))
    assert [a.fate for a in report.visible[1:]] == ["kept"] * 4
    assert (report.prompt_tokens, report.fits) == (NEEDED - 1, True)


def test_one_token_less_drops_a_short_oldest() -> None:
    thread = [msg("m0", "assistant", MIN_SHORTENED), *THREAD[1:]]
    needed = FIXED + sum(cost(m) for m in thread)
    report = truncate(thread, counter=WordCounter(), budget=needed - 1, fixed_tokens=FIXED)
    assert report.dropped_ids == ("m0",)
    assert [a.id for a in report.kept] == ["m1", "m2", "m3", "m4"]
    first = report.accounts()[0]
    assert (first.fate, first.tokens, first.original_tokens, first.text) == (
        "dropped",
        0,
        cost(thread[0]),
        "",
    )


def test_no_gap_once_a_message_does_not_fit() -> None:
    # m1 (30 words) no longer fits whole and has too little room left: it and everything older
    # is dropped, though the small m0 would fit on its own.
    thread = [msg("m0", "user", 1), *THREAD[1:]]
    budget = FIXED + sum(cost(m) for m in thread[2:]) + MIN_SHORTENED + 4 - 1
    assert run(thread, budget) == (["m2", "m3", "m4"], ["kept"] * 3, ["m0", "m1"])


def test_last_messages_keeps_the_last_n() -> None:
    strategy = TruncationStrategy(type="last_messages", last_messages=2)
    assert run(THREAD, 10**6, strategy) == (["m3", "m4"], ["kept"] * 2, ["m0", "m1", "m2"])


def test_last_messages_then_the_budget_applies() -> None:
    strategy = TruncationStrategy(type="last_messages", last_messages=3)
    budget = FIXED + cost(THREAD[4]) + cost(THREAD[3]) + 2
    assert run(THREAD, budget, strategy) == (["m3", "m4"], ["kept"] * 2, ["m0", "m1", "m2"])


def test_last_messages_counts_thread_messages_not_tool_exchanges() -> None:
    thread = [
        *THREAD,
        msg("call_1", "tool", 12, atomic=True),
        msg("call_2", "tool", 3, atomic=True),
    ]
    strategy = TruncationStrategy(type="last_messages", last_messages=1)
    assert run(thread, 10**6, strategy)[0] == ["m4", "call_1", "call_2"]


@pytest.mark.parametrize("last_messages", [None, 0, -1])
def test_last_messages_needs_a_positive_count(last_messages: int | None) -> None:
    with pytest.raises(ValueError, match="last_messages"):
        TruncationStrategy(type="last_messages", last_messages=last_messages)


def test_atomic_items_are_never_shortened() -> None:
    thread = [msg("call_0", "tool", 40, atomic=True), *THREAD[1:]]
    needed = FIXED + sum(cost(m) for m in thread)
    assert run(thread, needed) == (
        ["call_0", "m1", "m2", "m3", "m4"],
        ["kept"] * 5,
        [],
    )
    assert run(thread, needed - 1) == (["m1", "m2", "m3", "m4"], ["kept"] * 4, ["call_0"])


def test_newest_user_message_is_shortened_to_fit() -> None:
    thread = [*THREAD[:4], msg("m4", "user", 200)]
    visible, fates, dropped = run(thread, FIXED + 50)
    assert (visible, fates) == (["m4"], ["shortened"])
    assert dropped == ["m0", "m1", "m2", "m3"]


def test_newest_user_message_is_shortened_even_below_min_shortened() -> None:
    report = truncate(THREAD, counter=WordCounter(), budget=FIXED + 4 + 2, fixed_tokens=FIXED)
    assert [(a.id, a.fate, a.text) for a in report.visible] == [("m4", "shortened", "m40 m41")]
    assert report.fits


def test_newest_user_message_is_kept_even_when_nothing_fits() -> None:
    report = truncate(THREAD, counter=WordCounter(), budget=FIXED + 2, fixed_tokens=FIXED)
    assert [(a.id, a.fate) for a in report.visible] == [("m4", "kept")]
    assert report.prompt_tokens == FIXED + cost(THREAD[4])
    assert not report.fits


def test_mid_tool_loop_the_newest_user_message_stays() -> None:
    thread = [
        *THREAD,
        msg("call_1", "tool", 60, atomic=True),
        msg("call_2", "tool", 6, atomic=True),
    ]
    budget = FIXED + cost(thread[4]) + cost(thread[6]) + 20
    report = truncate(thread, counter=WordCounter(), budget=budget, fixed_tokens=FIXED)
    assert [a.id for a in report.visible] == ["m4", "call_2"]
    assert report.dropped_ids == ("m0", "m1", "m2", "m3", "call_1")
    assert [a.id for a in report.accounts()] == [m.id for m in thread]
    assert [a.fate for a in report.accounts()] == ["dropped"] * 4 + ["kept", "dropped", "kept"]


def test_no_user_message_and_no_room_drops_everything() -> None:
    thread = [msg("m0", "assistant", 3)]
    report = truncate(thread, counter=WordCounter(), budget=FIXED - 1, fixed_tokens=FIXED)
    assert (report.visible, report.dropped_ids, report.fits) == ((), ("m0",), False)
    empty = truncate([], counter=WordCounter(), budget=FIXED, fixed_tokens=FIXED)
    assert (empty.visible, empty.prompt_tokens, empty.fits) == ((), FIXED, True)


def test_same_input_same_output() -> None:
    for budget in range(FIXED, NEEDED + 2):
        first = truncate(THREAD, counter=WordCounter(), budget=budget, fixed_tokens=FIXED)
        again = truncate(THREAD, counter=WordCounter(), budget=budget, fixed_tokens=FIXED)
        assert first == again
        assert first.accounts() == again.accounts()


def test_real_counter_shortens_to_a_prefix_that_fits() -> None:
    counter = counter_for_encoding("o200k_base")
    thread = [
        PromptMessage("m0", "user", "The quick brown fox jumps over the lazy dog. " * 20),
        PromptMessage("m1", "assistant", "Sure, here is a summary of the story so far."),
        PromptMessage("m2", "user", "And then what happened?"),
    ]
    needed = FIXED + sum(message_tokens(counter, m.role, m.text) for m in thread)
    report = truncate(thread, counter=counter, budget=needed - 25, fixed_tokens=FIXED)
    oldest = report.visible[0]
    assert oldest.fate == "shortened"
    assert thread[0].text.startswith(oldest.text)
    assert oldest.tokens == message_tokens(counter, "user", oldest.text)
    assert report.fits
    assert report.prompt_tokens == needed - 25


class Thread(Sequence[PromptMessage]):
    """A long thread that records which messages are read, and refuses to be iterated."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads: list[int] = []

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> PromptMessage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PromptMessage]: ...
    def __getitem__(self, index: int | slice) -> PromptMessage | Sequence[PromptMessage]:
        assert isinstance(index, int), "truncate must index, not slice"
        assert 0 <= index < self.size
        self.reads.append(index)
        role = "user" if index % 2 == 0 else "assistant"
        return PromptMessage(f"msg_{index}", role, words(f"t{index}_", 10))

    def __iter__(self) -> Iterator[PromptMessage]:
        raise AssertionError("truncate must not iterate the thread")


def test_long_thread_counts_only_the_tail() -> None:
    thread = Thread(10_000)
    counter = WordCounter()
    budget = FIXED + 20 * (4 + 10) + 5  # 20 messages fit, the 21st has 5 tokens of room
    report = truncate(thread, counter=counter, budget=budget, fixed_tokens=FIXED)

    assert [a.id for a in report.visible] == [f"msg_{i}" for i in range(9_980, 10_000)]
    assert len(report.dropped_ids) == 9_980
    assert sorted(thread.reads) == list(range(10_000))  # each message read exactly once
    counted_texts = {text for text in counter.counted if text.startswith("t")}
    assert counted_texts == {words(f"t{i}_", 10) for i in range(9_979, 10_000)}
