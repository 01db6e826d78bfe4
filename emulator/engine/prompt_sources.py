"""What truncation reads, position by position, and what it writes for each message.

`truncate` (in `truncation`) reads a `PromptSource`: the thread's messages by position, each
with its cost in tokens. Two sources live here: a plain sequence, read lazily (only the
messages the walk reaches are read and counted, each once), and two sources one after the
other (a thread, then the run's tool exchanges). The third, `PromptIndex` (a thread kept in
step across runs), is in `prompt_index`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Literal, Protocol, TypeVar

from .tokens import TokenCounter, message_tokens

__all__ = [
    "ChainedSource",
    "Fate",
    "LazySource",
    "MessageAccount",
    "PromptMessage",
    "PromptSource",
    "kept_account",
    "kept_accounts",
]

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


_SET_ID, _SET_ROLE, _SET_FATE, _SET_TOKENS, _SET_ORIGINAL, _SET_TEXT, _SET_POSITION = (
    getattr(MessageAccount, name).__set__
    for name in ("id", "role", "fate", "tokens", "original_tokens", "text", "position")
)


def kept_account(message_id: str, role: str, text: str, cost: int, position: int) -> MessageAccount:
    """The account of a message kept whole.

    It fills the slots directly: the same object as ``MessageAccount(...)`` builds, in a third
    of the time (the frozen class's ``__init__`` goes through ``object.__setattr__`` once per
    field). ``kept_accounts`` builds many at once.
    """
    account: MessageAccount = object.__new__(MessageAccount)
    _SET_ID(account, message_id)
    _SET_ROLE(account, role)
    _SET_FATE(account, "kept")
    _SET_TOKENS(account, cost)
    _SET_ORIGINAL(account, cost)
    _SET_TEXT(account, text)
    _SET_POSITION(account, position)
    return account


_FEW = 8  # fewer accounts than this are built one by one: the columns cost more to set up


def kept_accounts(
    ids: Sequence[str], roles: Sequence[str], texts: Sequence[str], costs: Sequence[int], start: int
) -> list[MessageAccount]:
    """The accounts of consecutive messages kept whole, the first at position ``start``, built
    column by column: ``kept_account`` of each, in two thirds of the time."""
    n = len(ids)
    if n <= _FEW:
        return list(map(kept_account, ids, roles, texts, costs, range(start, start + n)))
    accounts: list[MessageAccount] = list(map(object.__new__, repeat(MessageAccount, n)))
    columns = (
        (_SET_ID, ids),
        (_SET_ROLE, roles),
        (_SET_FATE, repeat("kept", n)),
        (_SET_TOKENS, costs),
        (_SET_ORIGINAL, costs),
        (_SET_TEXT, texts),
        (_SET_POSITION, range(start, start + n)),
    )
    for setter, column in columns:
        deque(map(setter, accounts, column), maxlen=0)
    return accounts


class PromptSource(Protocol):
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


class LazySource:
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
            kept_account(self.message(i).id, self.role(i), self.message(i).text, self.cost(i), i)
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


class ChainedSource:
    """``head`` (positions ``[0, n)``) followed by ``tail`` (positions from n on)."""

    def __init__(self, head: PromptSource, tail: PromptSource) -> None:
        self._head, self._tail, self._n = head, tail, len(head)

    def __len__(self) -> int:
        return self._n + len(self._tail)

    def _part(self, i: int) -> PromptSource:
        return self._head if i < self._n else self._tail

    def message(self, i: int) -> PromptMessage:
        return self._part(i).message(i)

    def role(self, i: int) -> str:
        return self._part(i).role(i)

    def cost(self, i: int) -> int:
        return self._part(i).cost(i)

    def _split(
        self, lo: int, hi: int, read: Callable[[PromptSource, int, int], Sequence[_T]]
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
