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

A plain sequence is read lazily: only the messages the walk reaches are counted, and each is
read once by index. A PromptIndex (what runs use, one per thread) counts each message once,
ever, and keeps running sums, so the walk is a bisect and the kept accounts are list slices: a
run on a 10,000-message thread costs what changed since the previous run, not the thread.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from .tokens import TokenCounter, message_tokens

__all__ = [
    "HEAD_SHARE",
    "MIN_SHORTENED",
    "Fate",
    "MessageAccount",
    "PromptIndex",
    "PromptMessage",
    "TruncationReport",
    "TruncationStrategy",
    "truncate",
]

MIN_SHORTENED = 16
"""Fewest content tokens worth keeping of a shortened message; with less room it is dropped."""

HEAD_SHARE = 4
"""``auto`` lets the thread's beginning take at most 1/HEAD_SHARE of the prompt budget."""

Fate = Literal["kept", "shortened", "dropped"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PromptMessage:
    """One item of the thread as the model reads it."""

    id: str  # message id (or a tool call id for a tool exchange)
    role: str  # "user" | "assistant" | "tool"
    text: str  # the text the model reads
    atomic: bool = False  # a tool call with its output: kept or dropped whole, never shortened


@dataclass(frozen=True, slots=True)
class MessageAccount:
    """What truncation did to one message, and what it costs in the prompt."""

    id: str
    role: str
    fate: Fate
    tokens: int  # tokens it counts in the prompt, overhead included (0 when dropped)
    original_tokens: int  # tokens of the untouched message; 0 for a dropped one never counted
    text: str  # the text as the model sees it ("" when dropped)
    position: int  # index in the sequence given to truncate()


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


def truncate(
    messages: Sequence[PromptMessage] | PromptIndex,
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
    source = _source(messages, counter, extra)
    total = len(source)
    start = _window_start(source, total, strategy)
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
    return TruncationReport(
        visible=tuple(itertools.chain.from_iterable(pieces[lo] for lo, _ in taken)),
        dropped_ids=tuple(itertools.chain.from_iterable(source.ids(lo, hi) for lo, hi in gaps)),
        fixed_tokens=fixed_tokens,
        prompt_tokens=used,
        budget=budget,
        fits=used <= budget,
        dropped_roles=tuple(itertools.chain.from_iterable(source.roles(lo, hi) for lo, hi in gaps)),
        stopped_tokens=stopped_tokens,
        beginning_ids=tuple(account.id for account in beginning),
    )


def _walk(
    source: _Source, segments: list[tuple[int, int]], room: int
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
    source: _Source, first: int, pinned: int, counter: TokenCounter, room: int
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


def _window_start(source: _Source, total: int, strategy: TruncationStrategy) -> int:
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


class _Source(Protocol):
    """What truncate() reads, by position: messages, their whole cost and kept accounts.

    Ranges are ``[lo, hi)``; ``fit(lo, hi, room)`` is the walk: the oldest ``first`` such that
    the messages ``[first, hi)`` cost at most ``room``, and what they cost.
    """

    def __len__(self) -> int: ...
    def message(self, i: int) -> PromptMessage: ...
    def role(self, i: int) -> str: ...
    def cost(self, i: int) -> int: ...
    def kept(self, lo: int, hi: int) -> Sequence[MessageAccount]: ...
    def ids(self, lo: int, hi: int) -> Sequence[str]: ...
    def roles(self, lo: int, hi: int) -> Sequence[str]: ...
    def newest_user(self, lo: int, hi: int) -> int | None: ...
    def oldest_user(self, lo: int, hi: int) -> int | None: ...
    def fit(self, lo: int, hi: int, room: int) -> tuple[int, int]: ...


def _source(
    messages: Sequence[PromptMessage] | PromptIndex,
    counter: TokenCounter,
    extra: Sequence[PromptMessage],
) -> _Source:
    head: _Source
    if isinstance(messages, PromptIndex):
        if messages.counter is not counter:
            raise ValueError("the PromptIndex counts with another counter than truncate()'s")
        head = messages
    else:
        head = _Lazy(messages, counter)
    return _Chain(head, _Lazy(extra, counter, offset=len(head))) if extra else head


class PromptIndex:
    """A thread's messages as prompt items with their costs, kept in step with the thread.

    Each message is counted once, when appended; running sums of the costs make the walk a
    bisect, and kept accounts are built once and sliced, so truncating a long thread again
    costs what was appended since, plus O(log n).
    """

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self._messages: list[PromptMessage] = []
        self._ids: list[str] = []
        self._roles: list[str] = []
        self._kept: list[MessageAccount] = []
        self._sums: list[int] = [0]  # _sums[i]: what messages [0, i) cost
        self._users: list[int] = []  # positions of the "user" messages, ascending

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, message: PromptMessage) -> None:
        """Add the newest message, counting it."""
        position = len(self._messages)
        cost = message_tokens(self.counter, message.role, message.text)
        self._messages.append(message)
        self._ids.append(message.id)
        self._roles.append(message.role)
        self._kept.append(_account(message, position, "kept", cost, cost, message.text))
        self._sums.append(self._sums[-1] + cost)
        if message.role == "user":
            self._users.append(position)

    def cut(self, size: int) -> None:
        """Forget every message from position ``size`` on."""
        for column in (self._messages, self._ids, self._roles, self._kept):
            del column[size:]
        del self._sums[size + 1 :]
        del self._users[bisect.bisect_left(self._users, size) :]

    def sync(self, ids: Sequence[str], read: Callable[[str], PromptMessage]) -> None:
        """Match the thread whose message ids are ``ids`` (oldest first): read what is new.

        Ids are unique and keep their order, so the beginning is unchanged when the last known id
        is still where it was; after a delete the index forgets from the first difference on.
        """
        size = self.matching(ids)
        self.cut(size)
        for i in range(size, len(ids)):
            self.append(read(ids[i]))

    def matching(self, ids: Sequence[str]) -> int:
        """How many of the index's messages are the first of ``ids`` (the rest is new)."""
        size = len(self._ids)
        if size > len(ids) or (size and ids[size - 1] != self._ids[-1]):
            size = next(
                (i for i, (old, new) in enumerate(zip(self._ids, ids, strict=False)) if old != new),
                min(size, len(ids)),
            )
        return size

    # --- what truncate() reads (_Source) -------------------------------------------------

    def message(self, i: int) -> PromptMessage:
        return self._messages[i]

    def role(self, i: int) -> str:
        return self._roles[i]

    def cost(self, i: int) -> int:
        return self._sums[i + 1] - self._sums[i]

    def kept(self, lo: int, hi: int) -> Sequence[MessageAccount]:
        return self._kept[lo:hi]

    def ids(self, lo: int, hi: int) -> Sequence[str]:
        return self._ids[lo:hi]

    def roles(self, lo: int, hi: int) -> Sequence[str]:
        return self._roles[lo:hi]

    def newest_user(self, lo: int, hi: int) -> int | None:
        k = bisect.bisect_left(self._users, hi) - 1
        return self._users[k] if k >= 0 and self._users[k] >= lo else None

    def oldest_user(self, lo: int, hi: int) -> int | None:
        k = bisect.bisect_left(self._users, lo)
        return self._users[k] if k < len(self._users) and self._users[k] < hi else None

    def fit(self, lo: int, hi: int, room: int) -> tuple[int, int]:
        sums = self._sums
        first = min(bisect.bisect_left(sums, sums[hi] - room, lo, hi + 1), hi)
        return first, sums[hi] - sums[first]


class _Lazy:
    """A plain sequence at positions ``offset`` on, read by index at most once, counted lazily."""

    def __init__(
        self, messages: Sequence[PromptMessage], counter: TokenCounter, offset: int = 0
    ) -> None:
        self._messages, self._counter, self._offset = messages, counter, offset
        self._read: dict[int, PromptMessage] = {}
        self._costs: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def message(self, i: int) -> PromptMessage:
        message = self._read.get(i)
        if message is None:
            message = self._read[i] = self._messages[i - self._offset]
        return message

    def role(self, i: int) -> str:
        return self.message(i).role

    def cost(self, i: int) -> int:
        cost = self._costs.get(i)
        if cost is None:
            message = self.message(i)
            cost = self._costs[i] = message_tokens(self._counter, message.role, message.text)
        return cost

    def kept(self, lo: int, hi: int) -> Sequence[MessageAccount]:
        return [
            _account(self.message(i), i, "kept", self.cost(i), self.cost(i), self.message(i).text)
            for i in range(lo, hi)
        ]

    def ids(self, lo: int, hi: int) -> Sequence[str]:
        return [self.message(i).id for i in range(lo, hi)]

    def roles(self, lo: int, hi: int) -> Sequence[str]:
        return [self.message(i).role for i in range(lo, hi)]

    def newest_user(self, lo: int, hi: int) -> int | None:
        return next((i for i in range(hi - 1, lo - 1, -1) if self.role(i) == "user"), None)

    def oldest_user(self, lo: int, hi: int) -> int | None:
        return next((i for i in range(lo, hi) if self.role(i) == "user"), None)

    def fit(self, lo: int, hi: int, room: int) -> tuple[int, int]:
        first, used = hi, 0
        while first > lo and used + self.cost(first - 1) <= room:
            first -= 1
            used += self.cost(first)
        return first, used


class _Chain:
    """``head`` (positions ``[0, n)``) followed by ``tail`` (positions from n on)."""

    def __init__(self, head: _Source, tail: _Source) -> None:
        self._head, self._tail, self._n = head, tail, len(head)

    def __len__(self) -> int:
        return self._n + len(self._tail)

    def _part(self, i: int) -> _Source:
        return self._head if i < self._n else self._tail

    def message(self, i: int) -> PromptMessage:
        return self._part(i).message(i)

    def role(self, i: int) -> str:
        return self._part(i).role(i)

    def cost(self, i: int) -> int:
        return self._part(i).cost(i)

    def _split(
        self, lo: int, hi: int, read: Callable[[_Source, int, int], Sequence[_T]]
    ) -> Sequence[_T]:
        head = read(self._head, lo, min(hi, self._n)) if lo < self._n else ()
        tail = read(self._tail, max(lo, self._n), hi) if hi > self._n else ()
        return [*head, *tail] if head and tail else head or tail

    def kept(self, lo: int, hi: int) -> Sequence[MessageAccount]:
        return self._split(lo, hi, lambda part, a, b: part.kept(a, b))

    def ids(self, lo: int, hi: int) -> Sequence[str]:
        return self._split(lo, hi, lambda part, a, b: part.ids(a, b))

    def roles(self, lo: int, hi: int) -> Sequence[str]:
        return self._split(lo, hi, lambda part, a, b: part.roles(a, b))

    def newest_user(self, lo: int, hi: int) -> int | None:
        found = self._tail.newest_user(max(lo, self._n), hi) if hi > self._n else None
        if found is None and lo < self._n:
            found = self._head.newest_user(lo, min(hi, self._n))
        return found

    def oldest_user(self, lo: int, hi: int) -> int | None:
        found = self._head.oldest_user(lo, min(hi, self._n)) if lo < self._n else None
        if found is None and hi > self._n:
            found = self._tail.oldest_user(max(lo, self._n), hi)
        return found

    def fit(self, lo: int, hi: int, room: int) -> tuple[int, int]:
        if hi <= self._n:
            return self._head.fit(lo, hi, room)
        first, used = self._tail.fit(max(lo, self._n), hi, room)
        if first > self._n or lo >= self._n:
            return first, used
        first, more = self._head.fit(lo, self._n, room - used)
        return first, used + more


def _pinned_account(
    source: _Source, position: int, counter: TokenCounter, room: int
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
    return _account(message, position, "shortened", tokens, whole, text)


def _account(
    message: PromptMessage, position: int, fate: Fate, tokens: int, original: int, text: str
) -> MessageAccount:
    return MessageAccount(
        id=message.id,
        role=message.role,
        fate=fate,
        tokens=tokens,
        original_tokens=original,
        text=text,
        position=position,
    )
