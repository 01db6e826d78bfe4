"""What the model is shown of a thread: a stored message's text, the responder's views of
the messages, the terms a turn's prompt is fitted with, and a short thread's prompt read whole
(`turn.SHORT_THREAD`; longer threads go through a `PromptIndex` and `truncation.select`)."""

from __future__ import annotations

from operator import itemgetter

from ..wire.objects import Obj
from .models import ModelInfo
from .outcomes import RunState
from .prompt_index import PromptIndex, Reader
from .prompt_sources import kept_account
from .responders import ContextMessage
from .tokens import TokenCounter, fixed_prompt_tokens, message_tokens
from .truncation import (
    MessageAccount,
    PromptMessage,
    Selection,
    TruncationReport,
    TruncationStrategy,
)

IMAGE_TEXT = "[image]"
AUTO = TruncationStrategy()


def prompt_message(message: Obj) -> PromptMessage:
    """A thread message as truncation reads it."""
    return PromptMessage(message["id"], message["role"], message_text(message))


def message_text(message: Obj) -> str:
    """What the model reads of a message: its text parts, images as a placeholder."""
    content = message["content"]
    if len(content) == 1 and content[0]["type"] == "text":  # most messages: one text part
        text: str = content[0]["text"]["value"]
        return text
    texts = [
        part["text"]["value"] if part["type"] == "text" else IMAGE_TEXT
        for part in message["content"]
    ]
    return "\n".join(texts)


def context_message(account: MessageAccount) -> ContextMessage:
    """A visible message as the responder sees it."""
    return ContextMessage(account.id, account.role, account.text, account.fate == "shortened")


def context_view(message_id: str, role: str, text: str) -> ContextMessage:
    """``ContextMessage(message_id, role, text)``, its fields written directly rather than by
    the frozen dataclass's ``__init__`` (one ``object.__setattr__`` each): a long thread's first
    run builds thousands. tests/test_truncation_index.py checks the two are the same."""
    view: ContextMessage = object.__new__(ContextMessage)
    fields = view.__dict__
    fields["id"], fields["role"], fields["text"] = message_id, role, text
    fields["shortened"] = False
    return view


THREAD_READER = Reader(itemgetter("role"), message_text, context_view)
"""How a prompt index reads stored messages. It reads their text outside the store lock, when
it first counts them: a stored message's content is written once, under the lock, before any
turn can list its id, and never changes (modify takes metadata only)."""


def prompt_terms(
    run: Obj, state: RunState, info: ModelInfo, counter: TokenCounter
) -> tuple[int, int, TruncationStrategy, list[PromptMessage]]:
    """What a turn's prompt is fitted with: the budget, the tokens no truncation touches
    (instructions, tools), the strategy, and the run's tool exchanges (after the thread).

    The budget is the model's (ModelInfo.prompt_budget) and, with ``max_prompt_tokens``,
    what the run's earlier turns left of it.
    """
    budget = info.prompt_budget(run["max_completion_tokens"])
    if run["max_prompt_tokens"] is not None:
        budget = min(budget, run["max_prompt_tokens"] - state.prompt_tokens)
    exchanges = [
        PromptMessage(r.call_id, "tool", f"{r.name}({r.arguments}) -> {r.output}", atomic=True)
        for r in state.tool_results
    ]
    # "auto" ignores last_messages; "last_messages" with a null count (allowed) has no limit.
    chosen = run["truncation_strategy"]
    last = chosen.get("last_messages") if chosen["type"] == "last_messages" else None
    strategy = AUTO if last is None else TruncationStrategy("last_messages", last)
    fixed = fixed_prompt_tokens(counter, run["instructions"], run["tools"])
    return budget, fixed, strategy, exchanges


def whole_prompt(
    messages: list[Obj],
    counter: TokenCounter,
    budget: int,
    fixed: int,
    strategy: TruncationStrategy,
    exchanges: list[PromptMessage],
) -> tuple[TruncationReport, tuple[ContextMessage, ...]] | None:
    """A short thread's prompt when all of it fits (what `select` gives then, read in one loop
    over the stored messages), with the responder's views; None when something has to go.
    tests/test_truncation_index.py checks it against `select`."""
    if strategy.last_messages is not None and strategy.last_messages < len(messages):
        return None
    room = budget - fixed
    if room < 0:
        return None
    accounts: list[MessageAccount] = []
    views: list[ContextMessage] = []
    parts = [(m["id"], m["role"], message_text(m)) for m in messages]
    parts += [(e.id, e.role, e.text) for e in exchanges]
    for position, (item_id, role, text) in enumerate(parts):
        cost = message_tokens(counter, role, text)
        room -= cost
        if room < 0:
            return None
        accounts.append(kept_account(item_id, role, text, cost, position))
        views.append(context_view(item_id, role, text))
    report = TruncationReport(
        visible=tuple(accounts),
        dropped_ids=(),
        fixed_tokens=fixed,
        prompt_tokens=budget - room,
        budget=budget,
        fits=True,
    )
    return report, tuple(views)


def context_messages(
    index: PromptIndex[ContextMessage], selection: Selection
) -> tuple[ContextMessage, ...]:
    """The visible messages for the responder: those kept whole from the thread are the
    index's views, built once per message; the others (shortened, tool exchanges) afresh."""
    visible, n = selection.report.visible, len(index)
    found: list[ContextMessage] = []
    k = 0
    for lo, hi in selection.pieces:
        whole = min(hi, n) if visible[k].fate == "kept" else lo
        if lo < whole:
            found.extend(index.views(lo, whole))
        found.extend(context_message(a) for a in visible[k + max(whole - lo, 0) : k + hi - lo])
        k += hi - lo
    return tuple(found)
