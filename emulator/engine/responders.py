"""Responders decide what the assistant does in a run: scripts, rules, callables, a default.

A responder is any callable taking a `RunContext` and returning a `Reply` (or a `str`, meaning
text). It is asked once per model turn: at the start of a run and again after tool outputs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..retrieval.search import SearchResult
from . import reply, scripts
from .reply import Reply
from .truncation import TruncationReport

REPLY_TYPES = (str, *reply.REPLY_TYPES)


@dataclass(frozen=True)
class ContextMessage:
    """A message as the model sees it after truncation (`text` may be shortened)."""

    id: str
    role: str
    text: str
    shortened: bool = False


@dataclass(frozen=True)
class ToolResult:
    """A function call of this run and the output the client submitted for it."""

    call_id: str
    name: str
    arguments: str
    output: str


@dataclass(frozen=True)
class FileSearchCall:
    """A file_search call of this run: its queries and what they found, best first."""

    call_id: str
    queries: tuple[str, ...]
    results: tuple[SearchResult, ...]


@dataclass(frozen=True)
class OutputFileRef:
    """A file a code_interpreter call of this run wrote."""

    file_id: str
    filename: str


@dataclass(frozen=True)
class CodeInterpreterCall:
    """A code_interpreter call of this run: its input and the outputs the reply gave it."""

    call_id: str
    input: str
    logs: str | None
    images: tuple[OutputFileRef, ...]
    files: tuple[OutputFileRef, ...]


@dataclass(frozen=True)
class RunContext:
    """Everything a responder may look at for one model turn: copies, so changing them is
    harmless, unless the responder says it only reads them (see `reads_only()`)."""

    assistant: Mapping[str, Any]
    thread: Mapping[str, Any]
    run: Mapping[str, Any]
    messages: tuple[ContextMessage, ...]
    tool_outputs: tuple[ToolResult, ...]
    truncation: TruncationReport
    turn: int = 0
    new_tool_outputs: tuple[ToolResult, ...] = ()
    vector_store_ids: tuple[str, ...] = ()
    has_files: bool = False
    file_searches: tuple[FileSearchCall, ...] = ()
    code_interpreter_calls: tuple[CodeInterpreterCall, ...] = ()

    @property
    def file_search_results(self) -> tuple[SearchResult, ...]:
        """The results of this run's latest file_search call, best first (empty if none)."""
        return self.file_searches[-1].results if self.file_searches else ()

    def citation(self, n: int = 0) -> tuple[str, dict[str, Any]]:
        """The marker for result `n` of the latest file search and its `file_citation`.

        `marker, note = context.citation(0)`, then
        `reply.text(f"Cake{marker}.", annotations=[note])`.
        """
        result = self.file_search_results[n]
        marker = reply.citation_marker(n, result.filename)
        return marker, reply.file_citation(marker, result.file_id)

    @property
    def tool_types(self) -> tuple[str, ...]:
        """The types of the run's tools (`function`, `file_search`, `code_interpreter`)."""
        return tuple(t["type"] for t in self.run["tools"])

    @property
    def last_user_message(self) -> str | None:
        """Text of the newest user message the model sees, if any."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return None

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the function tools available in this run."""
        return tuple(t["function"]["name"] for t in self.run["tools"] if t["type"] == "function")


Responder = Callable[[RunContext], Reply | str]


class ScriptExhausted(RuntimeError):
    """A script was asked for more replies than it holds."""


def reads_only(responder: object) -> bool:
    """Whether `responder` says it only reads its context (a `reads_only` attribute that is
    `True`). Its turns then get top-level snapshots of the stored run, assistant and thread
    rather than deep copies: replacing a top-level value stays harmless, but the nested values
    are the stored ones. The built-in responder, and scripts and rules made of replies, say so.
    """
    return getattr(responder, "reads_only", False) is True


def default_responder(context: RunContext) -> Reply:
    """The reply used when nothing is configured; deterministic and useful for smoke tests.

    - after tool outputs: `Tool results: name=output, ...`;
    - when `tool_choice` forces a function (by name, or `"required"`: the first function tool):
      that call with `{}` arguments;
    - with the file_search tool and stores that hold files: a search for the newest user
      message, then an answer quoting the best chunk with a `file_citation`;
    - otherwise it echoes the newest user message: `You said: <text>` (or `Hello!` if none).

    It only reads its context (`reads_only`; tests/test_responders.py holds it to that).
    """
    if context.new_tool_outputs:
        results = ", ".join(f"{r.name}={r.output}" for r in context.new_tool_outputs)
        return reply.text(f"Tool results: {results}")
    last = context.last_user_message
    if context.file_searches:
        if context.file_search_results:
            return quote_best_result(context)
        return reply.text(f"I found nothing about that in the files. You said: {last}")
    choice = context.run.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":  # JSON: dict or str
        return reply.tool_call(choice["function"]["name"], {})
    if choice == "required" and context.function_names:
        return reply.tool_call(context.function_names[0], {})
    searchable = context.has_files and "file_search" in context.tool_types
    if searchable and last and choice != "none":
        return reply.file_search(last)
    return reply.text(f"You said: {last}" if last else "Hello!")


default_responder.reads_only = True  # type: ignore[attr-defined]

QUOTE_CHARACTERS = 400


def quote_best_result(context: RunContext) -> reply.Text:
    """`From <file>: "<best chunk>"【4:0†file】` with its `file_citation` (long chunks cut at a
    word, with an ellipsis)."""
    best = context.file_search_results[0]
    snippet = " ".join(best.text.split())
    if len(snippet) > QUOTE_CHARACTERS:
        snippet = snippet[:QUOTE_CHARACTERS].rsplit(" ", 1)[0] + "…"
    marker, note = context.citation(0)
    return reply.text(f'From {best.filename}: "{snippet}"{marker}', annotations=[note])


class Script:
    """Replies given in order, one per model turn, across all runs that use this script.

    An item may also be a responder (a callable taking the `RunContext`), asked in its turn.
    A single list or tuple is taken as the replies: `Script([a, b])` is `Script(a, b)`.
    A script of replies alone never looks at the context: it is `reads_only`.
    """

    def __init__(self, *replies: Reply | str | Responder | Sequence[Reply | str | Responder]):
        items: tuple[Any, ...] = replies
        if len(replies) == 1 and isinstance(replies[0], list | tuple):
            items = tuple(replies[0])
        for n, item in enumerate(items):
            if not (isinstance(item, REPLY_TYPES) or callable(item)):
                raise TypeError(
                    f"script item {n} is {_kind(item)}: a script holds replies "
                    "(reply.text(...), reply.tool_call(...), a str) or responders; for the JSON "
                    "form use Script.from_data(...)"
                )
        self._replies: list[Reply | str | Responder] = list(items)
        self.reads_only = not any(map(callable, items))
        self._next = 0
        self._lock = threading.Lock()

    @classmethod
    def from_data(cls, data: Iterable[Any] | Mapping[str, Any]) -> Script:
        """From plain data: a list of replies, or `{"replies": [...]}` (see `reply.from_data`);
        raises `ScriptFormatError` saying where it is wrong (`load_script` also takes rules)."""
        return _replies_only(scripts.parse(list(data) if not isinstance(data, Mapping) else data))

    @classmethod
    def from_file(cls, path: str | Path) -> Script:
        """From a JSON file holding what `from_data` takes (errors name the file and place)."""
        return _replies_only(scripts.load(path), str(path))

    @property
    def remaining(self) -> int:
        return len(self._replies) - self._next

    @property
    def used(self) -> int:
        return self._next

    def __call__(self, context: RunContext) -> Reply | str:
        with self._lock:
            if self._next >= len(self._replies):
                raise ScriptExhausted(
                    f"The script ran out of replies: all {len(self._replies)} scripted replies "
                    f"were used, and run {context.run['id']} asked for one more."
                )
            item = self._replies[self._next]
            self._next += 1
        return item(context) if callable(item) else item


@dataclass
class Rule:
    """When `matches(context)` holds, `respond(context)` answers; `reads_only`: neither changes
    the context (see `reads_only()`)."""

    matches: Callable[[RunContext], bool]
    respond: Responder
    reads_only: bool = False


@dataclass
class Rules:
    """The first matching rule answers; when none matches, `fallback` does."""

    rules: list[Rule] = field(default_factory=list)
    fallback: Responder = default_responder

    def add(
        self,
        pattern: str | re.Pattern[str] | None = None,
        then: Reply | str | Responder | Sequence[Reply | str] | None = None,
        *,
        assistant: str | None = None,
        when: Callable[[RunContext], bool] | None = None,
    ) -> Rules:
        """Answer `then` when the newest user message matches `pattern` (re.search), the
        assistant has this id or name, and `when(context)` holds; omitted conditions match.

        `then` is a reply, a responder, or a list of replies given one per matching turn of
        each run (`[reply.tool_call(...), reply.text(...)]`: the call, then the answer after the
        tool outputs). A single reply answers every matching turn, including the one after tool
        outputs, since the newest user message still matches.
        """
        if then is None:
            raise ValueError("a rule needs a reply: add(pattern, then=...)")
        if not (isinstance(then, REPLY_TYPES) or callable(then)):
            if not isinstance(then, list | tuple):
                raise TypeError(
                    f"then= is a reply, a responder or a list of replies, not {_kind(then)}"
                )
            for n, item in enumerate(then):
                if not isinstance(item, REPLY_TYPES):
                    raise TypeError(f"then[{n}] is {_kind(item)}, not a reply")
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def matches(context: RunContext) -> bool:
            if regex is not None and not regex.search(context.last_user_message or ""):
                return False
            if assistant is not None and assistant not in (
                context.assistant.get("id"),
                context.assistant.get("name"),
            ):
                return False
            return when is None or when(context)

        respond: Responder
        if isinstance(then, REPLY_TYPES):
            answer: Reply | str = then
            respond = lambda _context: answer  # noqa: E731
        elif callable(then):
            respond = then
        else:
            respond = _per_run(tuple(then), f"the rule for {pattern!r}")
        self.rules.append(Rule(matches, respond, reads_only=when is None and not callable(then)))
        return self

    def clear(self) -> Rules:
        """Forget every rule (the fallback stays)."""
        self.rules.clear()
        return self

    @property
    def reads_only(self) -> bool:
        """True while every rule was made of replies (no `when=`, no responder as `then=`) and
        the fallback only reads too."""
        return all(rule.reads_only for rule in self.rules) and reads_only(self.fallback)

    def __call__(self, context: RunContext) -> Reply | str:
        for rule in self.rules:
            if rule.matches(context):
                return rule.respond(context)
        return self.fallback(context)


def _per_run(replies: tuple[Reply | str, ...], owner: str) -> Responder:
    """A responder giving `replies` in order within each run (one list per run)."""
    if not replies:
        raise ValueError(f"{owner} needs at least one reply")
    given: dict[str, int] = {}
    lock = threading.Lock()

    def respond(context: RunContext) -> Reply | str:
        with lock:
            n = given.get(context.run["id"], 0)
            given[context.run["id"]] = n + 1
        if n >= len(replies):
            raise ScriptExhausted(
                f"{owner} ran out of replies: it has {len(replies)} per run, and run "
                f"{context.run['id']} asked for one more."
            )
        return replies[n]

    return respond


def as_reply(answer: object) -> Reply:
    """Normalise what a responder returned; anything else is a bug in the responder."""
    if isinstance(answer, str):
        return reply.text(answer)
    if isinstance(answer, reply.REPLY_TYPES):
        return answer
    raise TypeError(
        f"a responder must return a reply (reply.text(...), reply.tool_call(...), ...) or a str, "
        f"not {type(answer).__name__}"
    )


def from_script(data: scripts.ScriptData) -> Responder:
    """The responder a checked script describes: its replies as a `Script`, or its rules
    (answered by the replies, if any, when no rule matches)."""
    script = None if data.replies is None else Script(*data.replies)
    if data.rules is None:
        assert script is not None  # scripts.parse requires replies or rules
        return script
    rules = Rules() if script is None else Rules(fallback=script)
    for rule in data.rules:
        rules.add(rule.pattern, rule.then, assistant=rule.assistant)
    return rules


def load_script(source: str | Path | Mapping[str, Any] | Sequence[Any]) -> Responder:
    """A script file (path) or its decoded JSON, replies and rules, as a responder; a mistake
    raises `ScriptFormatError` (a ValueError) naming the file and the place in it."""
    if isinstance(source, str | Path):
        return from_script(scripts.load(source))
    return from_script(scripts.parse(source))


def _replies_only(data: scripts.ScriptData, source: str = "the script") -> Script:
    if data.rules is not None:
        raise scripts.ScriptFormatError(
            f"{source} has rules, which a Script cannot hold: use load_script(...)",
            param="rules",
        )
    return Script(*(data.replies or ()))


def _kind(value: object) -> str:
    return "None" if value is None else f"a {type(value).__name__} ({value!r:.60})"
