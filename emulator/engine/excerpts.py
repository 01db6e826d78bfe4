"""file_search for a forwarded turn: when to search, the excerpts the model is given, citations.

A chat model has no file_search tool, so the forwarding responder searches for it: the run gets
a real `file_search` step for the newest user message, and on the next turns the best chunks
go to the model as numbered excerpts in its system message. The model cites excerpt `n` as
`[n]` (or a `【n†...】` / `【4:n†...】` form it may know); `Citations` turns those into the real
marker `【4:n†file_name】` and its `file_citation` annotation, also piece by piece while the
reply streams.

The excerpts follow what the real service put in the model's context: at most the search's
`max_num_results` chunks (20, or 5 on gpt-3.5-turbo, unless the tool sets it) and at most
16,000 tokens (4,000 on gpt-3.5-turbo) of chunk text [files-vector-stores.md §6], counted with
`cl100k_base`, the encoding chunks are cut with; the chunk that crosses the budget is cut to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .responders import RunContext
from .tokens import counter_for_encoding
from .upstream import TextDelta

__all__ = ["Citations", "context_tokens", "excerpts", "search_query"]

CONTEXT_TOKENS = 16_000
CONTEXT_TOKENS_GPT35 = 4_000
MARKER = re.compile(r"\[(\d{1,4})\]|【(?:\d{1,4}:)?(\d{1,4})(?:†[^】\n]*)?】")
# What a marker may still become when the stream has given only its beginning.
PARTIAL_MARKER = re.compile(r"\[\d{0,4}|【[^】\n]{0,120}")
OPENERS = re.compile(r"[\[【]")


def search_query(context: RunContext) -> str | None:
    """The query this turn searches for instead of asking the model, or None to ask it.

    A run searches once, for the newest user message, when it has the file_search tool and its
    stores hold files, unless `tool_choice` is "none" or forces a function on this turn.
    """
    if context.file_searches or not context.has_files:
        return None
    if "file_search" not in context.tool_types:
        return None
    choice = context.run.get("tool_choice")
    if choice == "none":
        return None
    forced = isinstance(choice, Mapping) and choice.get("type") == "function"
    if forced and not context.new_tool_outputs:
        return None
    return context.last_user_message or None


def context_tokens(model: str) -> int:
    """The tokens of chunk text the real service gave a model of this name at most."""
    return CONTEXT_TOKENS_GPT35 if model.startswith("gpt-3.5-turbo") else CONTEXT_TOKENS


def excerpts(context: RunContext, budget: int) -> str:
    """The system message text giving the model the latest search's results, numbered."""
    query = " ".join(context.file_searches[-1].queries)
    results = context.file_search_results
    if not results:
        return f'A search of the files for "{query}" found nothing.'
    counter = counter_for_encoding("cl100k_base")
    shown: list[str] = []
    left = budget
    for n, result in enumerate(results):
        text = result.text.strip()
        tokens = counter.count(text)
        if tokens > left:
            text = counter.truncate(text, left)
            tokens = left
        if not text:
            break
        shown.append(f"[{n}] {result.filename}\n{text}")
        left -= tokens
    intro = (
        f'A search of the files for "{query}" found these excerpts, best first. When you use '
        "one, cite it by its number in square brackets, like [0]."
    )
    return "\n\n".join([intro, *shown])


class Citations:
    """Turns the model's citations of excerpts into real markers and `file_citation`s.

    `feed` takes the reply's text piece by piece (whole, when not streamed) and gives what can
    be sent: a possible marker cut between pieces is held back until it is whole. `flush` gives
    the rest. A number without a result stays text, as does everything when the run has no
    search results. Annotation offsets are `str` offsets in the whole reply.
    """

    def __init__(self, context: RunContext) -> None:
        self._context = context
        self._count = len(context.file_search_results)
        self._pending = ""
        self._length = 0  # of the text given so far
        self.annotations: list[dict[str, Any]] = []

    def feed(self, piece: str) -> TextDelta | None:
        """The text (with its annotations) that can be given after `piece`, if any."""
        self._pending += piece
        return self._drain(final=False)

    def flush(self) -> TextDelta | None:
        """What is left: a held-back beginning that never became a marker is text."""
        return self._drain(final=True)

    def cite(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        """A whole reply's text with its citations mapped, and their annotations."""
        given = [d for d in (self.feed(text), self.flush()) if d is not None]
        return "".join(d.text for d in given), self.annotations

    def _drain(self, *, final: bool) -> TextDelta | None:
        text, self._pending = self._pending, ""
        if not self._count:
            return self._give([text], [])
        out: list[str] = []
        notes: list[dict[str, Any]] = []
        plain = pos = 0  # plain: where text not yet given starts
        while (found := OPENERS.search(text, pos)) is not None:
            start = found.start()
            match = MARKER.match(text, start)
            if match is not None:
                n = int(match.group(1) or match.group(2))
                if n < self._count:
                    out.append(text[plain:start])
                    marker, note = self._context.citation(n)
                    offset = self._length + sum(map(len, out))
                    out.append(marker)
                    notes.append({**note, "start_index": offset, "end_index": offset + len(marker)})
                    plain = match.end()
                pos = match.end()
            elif not final and PARTIAL_MARKER.fullmatch(text, start):
                self._pending = text[start:]
                text = text[:start]
                break
            else:
                pos = start + 1
        out.append(text[plain:])
        return self._give(out, notes)

    def _give(self, out: list[str], notes: list[dict[str, Any]]) -> TextDelta | None:
        given = "".join(out)
        if not given:
            return None
        self._length += len(given)
        self.annotations += notes
        return TextDelta(given, tuple(notes))
