"""Fit a thread into a run's prompt budget, the way ``truncation_strategy`` asks.

Rules, deterministic and newest first:

- ``last_messages``: only the last N thread messages (tool exchanges newer than the oldest of
  them ride along, as a run's own tool calls do) are candidates; older ones are dropped.
- The newest "user" message among the candidates is pinned: it is always visible. It is
  accounted first, shortened only if it alone exceeds the budget, and kept whole (``fits``
  False) when not even its overhead fits.
- Then the walk goes from the newest candidate towards the oldest, keeping whole messages while
  the prompt fits. The first one that does not fit is shortened (its beginning kept) when it is
  not atomic and at least MIN_SHORTENED content tokens of room remain, else dropped; the walk
  stops there and every older message, except the pinned one, is dropped.
- ``auto`` keeps the beginning too: when the walk has to stop, the thread's first "user"
  message (and the reply after it, the first exchange, when that fits whole) is accounted
  before the walk, within 1/HEAD_SHARE of the budget: whole if it fits that share, else
  shortened to it (at least MIN_SHORTENED content tokens), else left to the walk. The walk then
  fills what is left with the newest messages, so messages are shortened and dropped from the
  middle, as the specification's TruncationObject says ("messages in the middle of the thread
  will be dropped"). When everything fits, nothing changes.

Sources (`prompt_sources`): a plain sequence is read lazily, only the messages the walk
reaches, each once by index. A PromptIndex (`prompt_index`: what runs use, one per thread)
counts a message when a walk first reaches it, never again, and keeps running sums, so the walk
is a bisect and the kept accounts are list slices: a run on a 10,000-message thread costs what
changed since the previous run, not the thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from .prompt_index import PromptIndex
from .prompt_sources import (
    ChainedSource,
    Fate,
    LazySource,
    MessageAccount,
    PromptMessage,
    PromptSource,
)
from .tokens import TokenCounter, message_tokens

__all__ = [
    "HEAD_SHARE",
    "MIN_SHORTENED",
    "Fate",
    "MessageAccount",
    "PromptIndex",
    "PromptMessage",
    "Selection",
    "TruncationReport",
    "TruncationStrategy",
    "select",
    "truncate",
]

MIN_SHORTENED = 16
"""Fewest content tokens worth keeping of a shortened message; with less room it is dropped."""

HEAD_SHARE = 4
"""``auto`` lets the thread's beginning take at most 1/HEAD_SHARE of the prompt budget."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class TruncationReport:
    """The prompt truncate() built: what the model sees, what was dropped, what it costs."""

    visible: tuple[MessageAccount, ...]  # kept and shortened, oldest first
    dropped_ids: tuple[str, ...]  # oldest first
    fixed_tokens: int  # instructions + tools + reply priming
    prompt_tokens: int  # fixed_tokens + the visible messages' tokens
    budget: int
    fits: bool  # prompt_tokens <= budget
    dropped_roles: tuple[str, ...] = field(default=(), repr=False)  # parallel to dropped_ids
    stopped_tokens: int = field(default=0, repr=False)  # the newest dropped one's, if counted
    beginning_ids: tuple[str, ...] = ()  # visible as the thread's beginning ("auto" only)

    @property
    def kept(self) -> tuple[MessageAccount, ...]:
        """Visible messages left whole, oldest first."""
        return tuple(account for account in self.visible if account.fate == "kept")

    @property
    def shortened(self) -> tuple[MessageAccount, ...]:
        """Visible messages cut to their beginning, oldest first."""
        return tuple(account for account in self.visible if account.fate == "shortened")

    @property
    def dropped(self) -> tuple[MessageAccount, ...]:
        """Accounts of the dropped messages, oldest first; built on demand, as few need them."""
        taken = {account.position for account in self.visible}
        positions = (i for i in range(len(self.visible) + len(self.dropped_ids)) if i not in taken)
        newest = len(self.dropped_ids) - 1
        return tuple(
            MessageAccount(
                id=id_,
                role=role,
                fate="dropped",
                tokens=0,
                original_tokens=self.stopped_tokens if n == newest else 0,
                text="",
                position=position,
            )
            for n, (id_, role, position) in enumerate(
                zip(self.dropped_ids, self.dropped_roles, positions, strict=True)
            )
        )

    def accounts(self) -> tuple[MessageAccount, ...]:
        """Every message in thread order, the dropped ones with fate "dropped"."""
        return tuple(sorted(self.visible + self.dropped, key=lambda account: account.position))

    def account(self, message_id: str) -> MessageAccount:
        """What happened to one message (or tool call, by its id); KeyError if it was not there."""
        for account in (*self.visible, *(self.dropped if message_id in self.dropped_ids else ())):
            if account.id == message_id:
                return account
        raise KeyError(f"{message_id!r} was not in this prompt")


@dataclass(frozen=True)
class TruncationStrategy:
    """The run's ``truncation_strategy``: "auto", or only the ``last_messages`` newest."""

    type: Literal["auto", "last_messages"] = "auto"
    last_messages: int | None = None  # required (>= 1) for "last_messages"; ignored for "auto"

    def __post_init__(self) -> None:
        if self.type not in ("auto", "last_messages"):
            raise ValueError(f"unknown truncation_strategy.type {self.type!r}")
        if self.type == "last_messages" and (self.last_messages is None or self.last_messages < 1):
            raise ValueError("truncation_strategy.last_messages must be >= 1 for 'last_messages'")


@dataclass(frozen=True)
class Selection:
    """A truncation and where its visible accounts come from: ``pieces`` are the ``[lo, hi)``
    position ranges of ``report.visible``, in order; a piece whose first account is kept holds
    messages kept whole, read from the source (what a PromptIndex has views of)."""

    report: TruncationReport
    pieces: tuple[tuple[int, int], ...]


def truncate(
    messages: Sequence[PromptMessage] | PromptIndex[Any],
    *,
    counter: TokenCounter,
    budget: int,
    fixed_tokens: int,
    strategy: TruncationStrategy = TruncationStrategy(),
    extra: Sequence[PromptMessage] = (),
) -> TruncationReport:
    """Choose which of ``messages`` (oldest first) the model sees within ``budget`` tokens.

    ``extra`` follows ``messages`` (a run's tool exchanges, counted afresh each time);
    ``fixed_tokens`` is what the prompt costs before any message (see
    emulator.tokens.fixed_prompt_tokens). The module docstring has the rules.
    """
    return select(
        messages,
        counter=counter,
        budget=budget,
        fixed_tokens=fixed_tokens,
        strategy=strategy,
        extra=extra,
    ).report


def select(
    messages: Sequence[PromptMessage] | PromptIndex[Any],
    *,
    counter: TokenCounter,
    budget: int,
    fixed_tokens: int,
    strategy: TruncationStrategy = TruncationStrategy(),
    extra: Sequence[PromptMessage] = (),
) -> Selection:
    """truncate(), with the pieces its visible accounts were read in (see Selection)."""
    source = _source(messages, counter, extra)
    total = len(source)
    start = _window_start(source, total, strategy)
    oldest, walked = source.fit(start, total, budget - fixed_tokens)
    if oldest == start:  # every candidate fits whole (most runs): what the rules below give
        report = TruncationReport(
            visible=tuple(source.kept(start, total)),
            dropped_ids=tuple(source.ids(0, start)),
            fixed_tokens=fixed_tokens,
            prompt_tokens=fixed_tokens + walked,
            budget=budget,
            fits=fixed_tokens + walked <= budget,
            dropped_roles=tuple(source.roles(0, start)),
        )
        return Selection(report, ((start, total),) if start < total else ())
    pinned = source.newest_user(start, total)

    used = fixed_tokens
    singles: list[MessageAccount] = []  # the pinned message, the beginning, the shortened one
    if pinned is None:
        segments = [(start, total)]
    else:
        singles.append(_pinned_account(source, pinned, counter, budget - used))
        used += singles[0].tokens
        segments = [(pinned + 1, total), (start, pinned)]  # newest first, around the pinned one

    ranges, stopper, walked = _walk(source, segments, budget - used)
    beginning: list[MessageAccount] = []
    first = None
    if stopper is not None and strategy.type == "auto" and pinned is not None:
        first = source.oldest_user(start, pinned)
    if first is not None and pinned is not None and stopper is not None and first <= stopper:
        room = min(budget // HEAD_SHARE, budget - used)
        beginning = _beginning(source, first, pinned, counter, room)
    if beginning and first is not None and pinned is not None:
        head = sum(account.tokens for account in beginning)
        after = beginning[-1].position + 1
        segments = [(pinned + 1, total), (after, pinned), (start, first)]
        ranges, stopper, walked = _walk(source, segments, budget - used - head)
        if stopper is None and beginning[0].fate == "shortened":  # all else fit: use it all
            # its reply was walked already (the walk started right after the first message)
            beginning = _beginning(source, first, first + 1, counter, budget - used - walked)
            head = sum(account.tokens for account in beginning)
        used += head
        singles.extend(beginning)
    used += walked

    stopped_tokens = 0  # of the stopper when it is dropped
    if stopper is not None:
        message, whole = source.message(stopper), source.cost(stopper)
        room = budget - used - message_tokens(counter, message.role, "")
        if not message.atomic and room >= MIN_SHORTENED:
            singles.append(_shortened_account(message, stopper, counter, whole, room))
            used += singles[-1].tokens
        else:
            stopped_tokens = whole

    taken = sorted([*ranges, *((a.position, a.position + 1) for a in singles)])
    pieces = {lo: source.kept(lo, hi) for lo, hi in ranges} | {a.position: (a,) for a in singles}
    gaps = _gaps(taken, total)
    report = TruncationReport(
        visible=_joined(pieces[lo] for lo, _ in taken),
        dropped_ids=_joined(source.ids(lo, hi) for lo, hi in gaps),
        fixed_tokens=fixed_tokens,
        prompt_tokens=used,
        budget=budget,
        fits=used <= budget,
        dropped_roles=_joined(source.roles(lo, hi) for lo, hi in gaps),
        stopped_tokens=stopped_tokens,
        beginning_ids=tuple(account.id for account in beginning),
    )
    return Selection(report, tuple(taken))


def _walk(
    source: PromptSource, segments: list[tuple[int, int]], room: int
) -> tuple[list[tuple[int, int]], int | None, int]:
    """Keep whole messages newest first through ``segments`` while they fit ``room``: the
    ranges kept, the newest message that did not fit (None: all did), what the kept cost."""
    ranges: list[tuple[int, int]] = []
    used = 0
    for lo, hi in segments:
        if lo >= hi:
            continue
        first, tokens = source.fit(lo, hi, room - used)
        used += tokens
        if first < hi:
            ranges.append((first, hi))
        if first > lo:
            return ranges, first - 1, used
    return ranges, None, used


def _beginning(
    source: PromptSource, first: int, pinned: int, counter: TokenCounter, room: int
) -> list[MessageAccount]:
    """The thread's first user message within ``room`` (whole, else shortened, else nothing),
    and the reply after it when that fits whole too: the first exchange."""
    message, whole = source.message(first), source.cost(first)
    if whole <= room:
        accounts = [source.kept(first, first + 1)[0]]
    else:
        content_room = room - message_tokens(counter, message.role, "")
        if message.atomic or content_room < MIN_SHORTENED:
            return []
        accounts = [_shortened_account(message, first, counter, whole, content_room)]
    reply = first + 1
    if (
        accounts[0].fate == "kept"
        and reply < pinned
        and source.role(reply) != "user"
        and source.cost(reply) <= room - accounts[0].tokens
    ):
        accounts.append(source.kept(reply, reply + 1)[0])
    return accounts


def _joined(parts: Iterable[Sequence[_T]]) -> tuple[_T, ...]:
    """One tuple of ``parts`` (list slices, mostly: joined whole, not item by item)."""
    joined: list[_T] = []
    for part in parts:
        joined += part
    return tuple(joined)


def _gaps(taken: list[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """The ranges of [0, total) that the sorted, disjoint ``taken`` ranges leave out."""
    gaps, at = [], 0
    for lo, hi in taken:
        if lo > at:
            gaps.append((at, lo))
        at = hi
    if at < total:
        gaps.append((at, total))
    return gaps


def _window_start(source: PromptSource, total: int, strategy: TruncationStrategy) -> int:
    """Index of the oldest candidate: the N-th newest non-tool message for last_messages."""
    if strategy.type == "auto" or strategy.last_messages is None:
        return 0
    remaining = strategy.last_messages
    for i in range(total - 1, -1, -1):
        if source.role(i) != "tool":
            remaining -= 1
            if remaining == 0:
                return i
    return 0


def _pinned_account(
    source: PromptSource, position: int, counter: TokenCounter, room: int
) -> MessageAccount:
    """The newest user message: whole if it fits, else shortened to fit, else whole anyway."""
    message, whole = source.message(position), source.cost(position)
    content_room = room - message_tokens(counter, message.role, "")
    if whole <= room or message.atomic or content_room < 1:
        return source.kept(position, position + 1)[0]
    return _shortened_account(message, position, counter, whole, content_room)


def _shortened_account(
    message: PromptMessage, position: int, counter: TokenCounter, whole: int, content_room: int
) -> MessageAccount:
    """``message`` cut to the beginning that fits ``content_room`` tokens."""
    text = counter.truncate(message.text, content_room)
    tokens = message_tokens(counter, message.role, text)
    return MessageAccount(message.id, message.role, "shortened", tokens, whole, text, position)


def _source(
    messages: Sequence[PromptMessage] | PromptIndex[Any],
    counter: TokenCounter,
    extra: Sequence[PromptMessage],
) -> PromptSource:
    head: PromptSource
    if isinstance(messages, PromptIndex):
        if messages.counter is not counter:
            raise ValueError("the PromptIndex counts with another counter than truncate()'s")
        head = messages
    else:
        head = LazySource(messages, counter)
    return ChainedSource(head, LazySource(extra, counter, offset=len(head))) if extra else head
