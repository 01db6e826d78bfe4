"""A thread's messages as a prompt source kept across runs, counted only where a walk goes.

A run on a long thread reads few of its messages: the walk goes from the newest towards the
oldest and stops where the budget does; `auto` adds the beginning. So the index takes each
message's id and role when it appears (cheap), and reads, counts and accounts a message only
when truncation reaches it (a walk counts in blocks sized to its room, so it may count a few
past where it stops); what it counted stays (a message's text never changes: modify touches
metadata only), so a later run counts only what is new.

Costs are kept as running sums over a window of consecutive counted positions, ``[low,
high]``: the walk over the window is a bisect, and the window grows down as far as a walk
needs. New messages come after the window; a walk from the newest then starts a new window at
the top and, when it comes down to the old one, joins it (the new part is shifted, the old is
untouched), so a run costs what changed since the previous one, plus O(log n) and the slices
its report is made of.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import add, attrgetter, eq, sub
from typing import Any, Generic, TypeVar, cast, overload

from .prompt_sources import MessageAccount, PromptMessage, kept_accounts
from .tokens import MESSAGE_OVERHEAD, TokenCounter, count_all, message_overhead

__all__ = ["PLAIN_READER", "PromptIndex", "Reader"]

V = TypeVar("V")

_BLOCK = 64
"""Messages a walk counts at once before it knows what one costs."""

_MARGIN = 8
"""Messages a block counts beyond what the room left should take, so one block is enough."""


@dataclass(frozen=True)
class Reader(Generic[V]):
    """How an index reads the items it is given: a role at once, a text only when counted, and
    ``view(id, role, text)``, what the caller wants of a message kept whole besides its
    account (built once, with it)."""

    role: Callable[[Any], str]
    text: Callable[[Any], str]
    view: Callable[[str, str, str], V]


PLAIN_READER = Reader(attrgetter("role"), attrgetter("text"), PromptMessage)
"""Items that are PromptMessages (never atomic: tool exchanges are truncate()'s ``extra``),
viewed as themselves."""


class PromptIndex(Generic[V]):
    """A thread's messages in order, counted lazily, kept in step with the thread by ids."""

    @overload
    def __init__(self: PromptIndex[PromptMessage], counter: TokenCounter) -> None: ...
    @overload
    def __init__(self, counter: TokenCounter, reader: Reader[V]) -> None: ...
    def __init__(self, counter: TokenCounter, reader: Reader[Any] = PLAIN_READER) -> None:
        self.counter = counter
        self._reader = reader
        self._ids: list[str] = []
        self._roles: list[str] = []
        self._items: list[Any] = []
        self._users: list[int] = []  # positions of the "user" messages, ascending
        self._costs: list[int] = []  # -1 until counted
        self._kept: list[MessageAccount | None] = []  # set when counted
        self._views: list[V | None] = []  # set when counted
        # _sums[j] - _sums[i] is what [i, j) costs, for low <= i <= j <= high
        self._sums: list[int] = [0]
        self._low = self._high = 0
        self._overheads: dict[str, int] = {}  # message_overhead() by role
        self._older: tuple[int, int, int] | None = None  # a window below: low, high, _sums[high]

    def __len__(self) -> int:
        return len(self._ids)

    # --- keeping in step with the thread -------------------------------------------------

    def sync(self, ids: Sequence[str], get: Callable[[str], Any]) -> None:
        """Match the thread whose message ids are ``ids`` (oldest first); ``get`` gives the item
        of a new id."""
        size = self.matching(ids)
        self.cut(size)
        self.extend(ids[size:], [get(i) for i in ids[size:]])

    def matching(self, ids: Sequence[str]) -> int:
        """How many of the index's messages are the first of ``ids`` (the rest is new).

        Ids are unique and keep their order, so the beginning is unchanged when the last known id
        is still where it was; after a delete the index differs from the first difference on.
        """
        size = len(self._ids)
        if size > len(ids) or (size and ids[size - 1] != self._ids[-1]):
            size = next(
                (i for i, (old, new) in enumerate(zip(self._ids, ids, strict=False)) if old != new),
                min(size, len(ids)),
            )
        return size

    def cut(self, size: int) -> None:
        """Forget every message from position ``size`` on."""
        if size >= len(self._ids):
            return
        for column in (self._ids, self._roles, self._items, self._costs, self._kept, self._views):
            del column[size:]
        del self._sums[size + 1 :]
        del self._users[bisect.bisect_left(self._users, size) :]
        self._older = None
        if self._low > size:
            self._low = self._high = size
        self._high = min(self._high, size)

    def extend(self, ids: Sequence[str], items: Sequence[Any]) -> None:
        """Add the newest messages (not read yet: only their roles)."""
        start, n = len(self._ids), len(ids)
        if not n:
            return
        roles = list(map(self._reader.role, items))
        self._ids.extend(ids)
        self._items.extend(items)
        self._roles.extend(roles)
        users = map(eq, roles, itertools.repeat("user"))
        self._users.extend(itertools.compress(range(start, start + n), users))
        self._costs.extend([-1] * n)
        self._kept.extend([None] * n)
        self._views.extend([None] * n)
        self._sums.extend([0] * n)

    def views(self, lo: int, hi: int) -> list[V]:
        """The readers' views of the messages ``[lo, hi)`` kept whole."""
        self._count_range(lo, hi)
        return cast(list[V], self._views[lo:hi])

    # --- what truncate() reads (PromptSource) --------------------------------------------

    def message(self, i: int) -> PromptMessage:
        self.cost(i)
        account = self._kept[i]
        assert account is not None
        return PromptMessage(account.id, account.role, account.text)

    def role(self, i: int) -> str:
        return self._roles[i]

    def cost(self, i: int) -> int:
        cost = self._costs[i]
        return cost if cost >= 0 else self._count_block(i, i + 1)[0]

    def kept(self, lo: int, hi: int) -> Sequence[MessageAccount]:
        self._count_range(lo, hi)
        return cast(list[MessageAccount], self._kept[lo:hi])

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
        if hi > self._high:  # messages after the window: a new one starts at the top
            if self._low < self._high:
                self._older = (self._low, self._high, self._sums[self._high])
            self._low = self._high = hi
            self._sums[hi] = 0
        elif hi < self._low:  # just below the window (around the pinned or first message)
            self._grow(hi, None)
        sums = self._sums
        self._grow(lo, sums[hi] - room)
        first = min(bisect.bisect_left(sums, sums[hi] - room, max(lo, self._low), hi + 1), hi)
        return first, sums[hi] - sums[first]

    # --- counting ------------------------------------------------------------------------

    def _grow(self, lo: int, least: int | None) -> None:
        """Count down from the window's low end towards ``lo`` while the window's running sum
        there is at least ``least`` (what still fits the walk's room; None: all the way)."""
        sums = self._sums
        while self._low > lo and (least is None or sums[self._low] >= least):
            low, older = self._low, self._older
            if older is not None and low == older[1]:  # join the window below, shifting this one
                shift = older[2] - sums[low]
                for k in range(low, self._high + 1):
                    sums[k] += shift
                if least is not None:
                    least += shift
                self._low, self._older = older[0], None
                continue
            bottom = max(lo, -1 if older is None else older[1])
            new_low = self._count_down(
                bottom, low, math.inf if least is None else sums[low] - least
            )
            downward = itertools.accumulate(
                reversed(self._costs[new_low:low]), sub, initial=sums[low]
            )
            sums[new_low : low + 1] = list(downward)[::-1]
            self._low = new_low

    def _count_down(self, lo: int, hi: int, room: float) -> int:
        """Count messages newest first from ``hi - 1`` down to ``lo`` until their cost is over
        ``room``, the one over it included; the lowest position counted (it may be lower: a
        block counted at once goes a little past that one).

        Blocks are sized by the room left and the cost per message so far: a long thread's
        first run counts thousands of messages in a few blocks."""
        i, spent = hi, 0  # spent: what [i, hi) costs
        while i > lo and spent <= room:
            left = room - spent
            if math.isinf(left):
                size = i - lo
            else:  # the room left over the cost per message so far, at most what it can take
                fits = int(left) // MESSAGE_OVERHEAD + 1  # each costs MESSAGE_OVERHEAD or more
                guess = math.ceil(left * (hi - i) / spent) + _MARGIN if spent > 0 else _BLOCK
                size = min(guess, fits)
            start = max(lo, i - size)
            spent += self._count_range(start, i)
            i = start
        return i

    def _count_range(self, lo: int, hi: int) -> int:
        """Count whatever of ``[lo, hi)`` is not counted yet, a block per stretch; what
        ``[lo, hi)`` costs."""
        costs = self._costs
        if self._low <= lo and hi <= self._high:  # the window is counted
            return self._sums[hi] - self._sums[lo]
        block = costs[lo:hi]
        if block.count(-1) == hi - lo:  # the common case: none counted yet
            return sum(self._count_block(lo, hi))
        at = lo
        while -1 in block:
            start = costs.index(-1, at, hi)
            at = start + 1
            while at < hi and costs[at] < 0:
                at += 1
            self._count_block(start, at)
            block = costs[at:hi]
        return sum(costs[lo:hi])

    def _count_block(self, lo: int, hi: int) -> list[int]:
        """Read and count the messages ``[lo, hi)`` (none counted yet), their accounts and views
        built column by column: their costs."""
        roles = self._roles[lo:hi]
        for role in set(roles) - self._overheads.keys():
            self._overheads[role] = message_overhead(self.counter, role)
        texts = list(map(self._reader.text, self._items[lo:hi]))
        block = list(
            map(add, map(self._overheads.__getitem__, roles), count_all(self.counter, texts))
        )
        ids = self._ids[lo:hi]
        self._views[lo:hi] = map(self._reader.view, ids, roles, texts)
        self._kept[lo:hi] = kept_accounts(ids, roles, texts, block, lo)
        self._costs[lo:hi] = block
        return block
