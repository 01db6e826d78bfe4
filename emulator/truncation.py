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

Only the messages the walk reaches are counted, and each is read once by index, so a
10,000-message thread costs its visible tail plus one id read per dropped message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from emulator.tokens import TokenCounter, message_tokens

__all__ = [
    "MIN_SHORTENED",
    "Fate",
    "MessageAccount",
    "PromptMessage",
    "TruncationReport",
    "TruncationStrategy",
    "truncate",
]

MIN_SHORTENED = 16
"""Fewest content tokens worth keeping of a shortened message; with less room it is dropped."""

Fate = Literal["kept", "shortened", "dropped"]

_Reader = Callable[[int], "PromptMessage"]


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
    messages: Sequence[PromptMessage],
    *,
    counter: TokenCounter,
    budget: int,
    fixed_tokens: int,
    strategy: TruncationStrategy = TruncationStrategy(),
) -> TruncationReport:
    """Choose which of ``messages`` (oldest first) the model sees within ``budget`` tokens.

    ``fixed_tokens`` is what the prompt costs before any message (see
    emulator.tokens.fixed_prompt_tokens). The module docstring has the rules.
    """
    read: dict[int, PromptMessage] = {}

    def at(index: int) -> PromptMessage:
        message = read.get(index)
        if message is None:
            message = read[index] = messages[index]
        return message

    total = len(messages)
    start = _window_start(at, total, strategy)
    pinned = next((i for i in range(total - 1, start - 1, -1) if at(i).role == "user"), None)

    visible: dict[int, MessageAccount] = {}
    used = fixed_tokens
    if pinned is not None:
        visible[pinned] = _pinned_account(at(pinned), pinned, counter, budget - used)
        used += visible[pinned].tokens

    stopped_tokens = 0  # of the message the walk dropped where it stopped (the newest dropped)
    for i in range(total - 1, start - 1, -1):
        if i == pinned:
            continue
        message = at(i)
        whole = message_tokens(counter, message.role, message.text)
        if used + whole <= budget:
            visible[i] = _account(message, i, "kept", whole, whole, message.text)
            used += whole
            continue
        room = budget - used - message_tokens(counter, message.role, "")
        if not message.atomic and room >= MIN_SHORTENED:
            visible[i] = _shortened_account(message, i, counter, whole, room)
            used += visible[i].tokens
        else:
            stopped_tokens = whole
        break

    dropped = [read[i] if i in read else messages[i] for i in range(total) if i not in visible]
    return TruncationReport(
        visible=tuple(visible[i] for i in sorted(visible)),
        dropped_ids=tuple(message.id for message in dropped),
        fixed_tokens=fixed_tokens,
        prompt_tokens=used,
        budget=budget,
        fits=used <= budget,
        dropped_roles=tuple(message.role for message in dropped),
        stopped_tokens=stopped_tokens,
    )


def _window_start(at: _Reader, total: int, strategy: TruncationStrategy) -> int:
    """Index of the oldest candidate: the N-th newest non-tool message for last_messages."""
    if strategy.type == "auto" or strategy.last_messages is None:
        return 0
    remaining = strategy.last_messages
    for i in range(total - 1, -1, -1):
        if at(i).role != "tool":
            remaining -= 1
            if remaining == 0:
                return i
    return 0


def _pinned_account(
    message: PromptMessage, position: int, counter: TokenCounter, room: int
) -> MessageAccount:
    """The newest user message: whole if it fits, else shortened to fit, else whole anyway."""
    whole = message_tokens(counter, message.role, message.text)
    content_room = room - message_tokens(counter, message.role, "")
    if whole <= room or message.atomic or content_room < 1:
        return _account(message, position, "kept", whole, whole, message.text)
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
