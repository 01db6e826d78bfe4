"""`forward`: a responder that asks an OpenAI-compatible Chat Completions server for each turn.

The emulator keeps everything around the model (run statuses, steps, truncation, usage, expiry);
each model turn becomes one `POST {base_url}/chat/completions` to a model the user runs (llama.cpp,
Ollama, vLLM, ...), and its answer becomes the turn's reply.

What is sent, keys with values only and in their plainest form (llama.cpp's server answers 500 to
`content: null`, `description: null`, `temperature: null`, or content as a list of parts):

- `system`: the run's instructions (the run's own, else the assistant's) with
  `additional_instructions` appended, as the emulator composes `run.instructions`;
- the messages truncation kept (`RunContext.messages`), in order, with their roles; this run's
  earlier tool calls as an `assistant` message with `tool_calls` (content `""`) followed by one
  `tool` message per output, with the call ids;
- the run's function tools; `tool_choice` ("auto" is left out as the default; "required" with a
  single function becomes that named function, which llama.cpp honours while it ignores
  "required"; a forced choice applies only to the turn before tool outputs, like the default
  responder); `parallel_tool_calls` when false; `temperature`, `top_p`; `response_format` when
  `json_object` or `json_schema`; `max_tokens` from `max_completion_tokens` (llama.cpp ignores
  `max_completion_tokens`); a `seed` per run and turn.

With the file_search tool and files in the run's stores, the run's first turn (or the first one
after a forced function's outputs) asks no model: it searches for the newest user message, and
later turns give the model the results as numbered excerpts in the system message and map its
`[n]` citations to `file_citation`s (see `excerpts`).

Usage is the emulator's own count, as for every responder: the same counter decides truncation
and the `max_prompt_tokens` / `max_completion_tokens` budgets, so run usage agrees with them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from . import excerpts, reply
from .reply import Reply
from .responders import RunContext, ToolResult
from .upstream import (
    CallDelta,
    Completion,
    Delta,
    Finish,
    TextDelta,
    Upstream,
    UpstreamCall,
    UpstreamError,
    assemble,
)

__all__ = [
    "DEFAULT_KEY_ENV",
    "Forward",
    "TurnStream",
    "chat_messages",
    "chat_tool_choice",
    "forward",
    "responder_from_cli",
    "turn_seed",
]

log = logging.getLogger("emulator")

DEFAULT_KEY_ENV = "EMULATOR_FORWARD_API_KEY"
JSON_FORMATS = ("json_object", "json_schema")  # "auto" and {"type": "text"} are the default
DEFAULT_TIMEOUT = 600.0  # a run expires 10 minutes after it was created; no turn outlives that


def forward(
    base_url: str,
    *,
    model: str | Mapping[str, str] | None = None,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    seed: int | str | None = 0,
    transport: httpx.BaseTransport | None = None,
    file_search_tokens: int | None = None,
) -> Forward:
    """A responder forwarding each model turn to `{base_url}/chat/completions`.

    - `model`: None sends the run's model; a str sends that model for every run; a mapping
      (`{"gpt-4o": "qwen2.5:7b"}`) renames the run's model, and sends other names unchanged.
    - `api_key`: sent as `Authorization: Bearer ...`; never shown in messages, logs or reprs.
    - `timeout`: seconds for the whole answer (connecting: at most 10 s); past it the run
      fails with `server_error`.
    - `seed`: mixed with the run id (itself drawn from the emulator's seed) and the turn into
      the `seed` sent, so an upstream that honours it answers the same way every time; None
      sends no seed.
    - `transport`: the httpx transport to send with (default: a fresh `httpx.HTTPTransport`,
      which the emulator never intercepts); tests inject `httpx.MockTransport`.
    - `file_search_tokens`: the most tokens of file_search excerpts given to the model (None:
      the real service's 16,000, or 4,000 for a gpt-3.5-turbo run); lower it for a model with
      a small context window.
    """
    return Forward(
        base_url,
        model=model,
        api_key=api_key,
        timeout=timeout,
        seed=seed,
        transport=transport,
        file_search_tokens=file_search_tokens,
    )


def responder_from_cli(
    url: str,
    model: str | None = None,
    key_env: str = DEFAULT_KEY_ENV,
    *,
    seed: int | str | None = 0,
) -> Forward:
    """The responder of `serve --forward URL [--forward-model NAME]`; the key comes from the
    environment variable `key_env` (unset or empty: no key), never from the command line."""
    return forward(url, model=model, api_key=os.environ.get(key_env) or None, seed=seed)


class Forward:
    """A responder asking a Chat Completions server; see `forward` for the parameters."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str | Mapping[str, str] | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        seed: int | str | None = 0,
        transport: httpx.BaseTransport | None = None,
        file_search_tokens: int | None = None,
    ) -> None:
        if file_search_tokens is not None and file_search_tokens < 0:
            raise ValueError(f"file_search_tokens must be >= 0, not {file_search_tokens}")
        self.model = model if model is None or isinstance(model, str) else dict(model)
        self.seed = seed
        self.file_search_tokens = file_search_tokens
        self.upstream = Upstream(base_url, api_key=api_key, timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"forward({self.upstream.shown_url.removesuffix('/chat/completions')!r})"

    def close(self) -> None:
        """Close the upstream connections (they are reopened on the next turn)."""
        self.upstream.close()

    def __call__(self, context: RunContext) -> Reply:
        """One model turn: ask the upstream, map its answer; failures fail the run."""
        query = excerpts.search_query(context)
        if query is not None:
            return reply.file_search(query)
        try:
            return self.reply_for(context, self.upstream.complete(self.request_body(context)))
        except UpstreamError as error:
            return self._failed(context, error)
        except Exception as error:  # a bug here must fail the run, not the emulator
            return self._crashed(context, error)

    def stream(self, context: RunContext) -> TurnStream:
        """The same turn asked with `stream: true`: deltas as the model produces them."""
        return TurnStream(self, context)

    def model_for(self, run_model: str) -> str:
        """The model name sent for a run of `run_model`."""
        if self.model is None:
            return run_model
        if isinstance(self.model, str):
            return self.model
        return self.model.get(run_model, run_model)

    def request_body(self, context: RunContext) -> dict[str, Any]:
        """The `chat/completions` request body of this turn."""
        run = context.run
        body: dict[str, Any] = {
            "model": self.model_for(run["model"]),
            "messages": self._with_excerpts(context, chat_messages(context)),
        }
        functions = [t["function"] for t in run["tools"] if t["type"] == "function"]
        if functions:
            body["tools"] = [{"type": "function", "function": _function(f)} for f in functions]
            choice = chat_tool_choice(
                run["tool_choice"],
                [f["name"] for f in functions],
                after_outputs=bool(context.new_tool_outputs or context.file_searches),
            )
            if choice is not None:
                body["tool_choice"] = choice
            if not run["parallel_tool_calls"]:
                body["parallel_tool_calls"] = False
        for key in ("temperature", "top_p"):
            if run.get(key) is not None:
                body[key] = run[key]
        response_format = run.get("response_format")
        if isinstance(response_format, Mapping) and response_format.get("type") in JSON_FORMATS:
            body["response_format"] = _without_nones(response_format)
        if run.get("max_completion_tokens") is not None:
            body["max_tokens"] = run["max_completion_tokens"]
        if self.seed is not None:
            body["seed"] = turn_seed(self.seed, run["id"], context.turn)
        return body

    def _with_excerpts(
        self, context: RunContext, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """`messages` with this run's file_search results at the end of the system message."""
        if not context.file_searches:
            return messages
        budget = self.file_search_tokens
        if budget is None:
            budget = excerpts.context_tokens(context.run["model"])
        given = excerpts.excerpts(context, budget)
        if messages and messages[0]["role"] == "system":
            system = messages[0]["content"] + "\n\n" + given
            return [{"role": "system", "content": system}, *messages[1:]]
        return [{"role": "system", "content": given}, *messages]

    def reply_for(
        self,
        context: RunContext,
        completion: Completion,
        annotations: Sequence[Mapping[str, Any]] | None = None,
    ) -> Reply:
        """The reply a completion makes: text, tool calls, or an early end.

        Citations in the text are mapped here unless `annotations` says they were already (a
        streamed text, mapped piece by piece). A text cut short keeps its markers, without
        annotations, like any reply cut at `max_completion_tokens`.
        """
        if not completion.calls:
            text = completion.text or ""
            if annotations is None:
                text, annotations = excerpts.Citations(context).cite(text)
            if completion.finish_reason == "length":
                return reply.incomplete("max_completion_tokens", text or None)
            return reply.text(text, annotations=annotations)
        if completion.finish_reason == "length":  # arguments cut short: no call is made
            return reply.incomplete("max_completion_tokens")
        calls = completion.calls if context.run["parallel_tool_calls"] else completion.calls[:1]
        problem = _call_problem(calls, context.run)
        if problem is not None:
            message = f"The model at {self.upstream.shown_url} {problem}."
            return self._failed(context, UpstreamError("server_error", message))
        ids = CallIds(context.tool_outputs)
        return reply.tool_calls(
            *(reply.call(c.name, c.arguments or "{}", id=ids.resolve(c.id)) for c in calls)
        )

    def _failed(self, context: RunContext, error: UpstreamError) -> Reply:
        log.warning("forwarded turn of run %s failed: %s", context.run.get("id"), error.message)
        return reply.fail(error.code, error.message)

    def _crashed(self, context: RunContext, error: Exception) -> Reply:
        message = self.upstream.redact(
            f"Forwarding to {self.upstream.shown_url} failed: {type(error).__name__}: {error}"
        )
        log.error("forwarded turn of run %s failed: %s", context.run.get("id"), message)
        return reply.fail("server_error", message)


class TurnStream:
    """The deltas of a streamed forwarded turn; `reply` holds the turn's reply once they are read.

    A call's first delta carries its final id (None: the engine draws a fresh one), its name
    comes once, and later deltas carry argument pieces only (llama.cpp repeats id and name in
    every chunk). With `parallel_tool_calls` false only the first call streams. Text goes through
    `excerpts.Citations`: a citation is held back until it is whole, then sent as the real
    marker with its annotation. Iterating never raises: a failure ends the deltas and makes
    `reply` a `reply.fail(...)`.
    """

    def __init__(self, owner: Forward, context: RunContext) -> None:
        self._owner = owner
        self._context = context
        self.reply: Reply | None = None

    def __iter__(self) -> Iterator[TextDelta | CallDelta]:
        owner, context = self._owner, self._context
        query = excerpts.search_query(context)
        if query is not None:
            self.reply = reply.file_search(query)
            return
        seen: list[Delta] = []
        ids = CallIds(context.tool_outputs)
        named: dict[int, bool] = {}  # index -> its name was given
        single = not context.run["parallel_tool_calls"]
        citations = excerpts.Citations(context)
        try:
            for delta in owner.upstream.stream(owner.request_body(context)):
                if isinstance(delta, TextDelta):
                    cited = citations.feed(delta.text)
                    if cited is not None:
                        seen.append(cited)
                        yield cited
                    continue
                if (held := citations.flush()) is not None:  # text the model left unfinished
                    seen.append(held)
                    yield held
                if isinstance(delta, CallDelta):
                    first = delta.index not in named
                    if first and single and named:
                        continue  # without parallel_tool_calls, only the first call
                    name = None if named.get(delta.index) else delta.name
                    named[delta.index] = named.get(delta.index, False) or name is not None
                    delta = CallDelta(
                        delta.index, ids.resolve(delta.id) if first else None, name, delta.arguments
                    )
                seen.append(delta)
                if not isinstance(delta, Finish):
                    yield delta
            if (held := citations.flush()) is not None:
                seen.append(held)
                yield held
            self.reply = owner.reply_for(context, assemble(seen), citations.annotations)
        except UpstreamError as error:
            self.reply = owner._failed(context, error)
        except Exception as error:  # a bug here must fail the run, not the emulator
            self.reply = owner._crashed(context, error)


class CallIds:
    """Ids of a turn's calls: the upstream's when it gives a fresh one, else None (the engine
    draws a new `call_...`). Some servers give every call of a turn the same id, or reuse ids
    across turns; a repeated id would make tool outputs ambiguous."""

    def __init__(self, earlier: Sequence[ToolResult]) -> None:
        self._taken = {result.call_id for result in earlier}

    def resolve(self, upstream_id: str | None) -> str | None:
        if not upstream_id or upstream_id in self._taken:
            return None
        self._taken.add(upstream_id)
        return upstream_id


def chat_messages(context: RunContext) -> list[dict[str, Any]]:
    """The `messages` of a turn: system, the visible thread messages, this run's tool rounds."""
    messages: list[dict[str, Any]] = []
    if context.run.get("instructions"):
        messages.append({"role": "system", "content": context.run["instructions"]})
    visible = {m.id for m in context.messages if m.role == "tool"}  # tool exchanges: call ids
    rounds = _tool_rounds(context)
    round_of = {r.call_id: n for n, batch in enumerate(rounds) for r in batch}
    written: set[int] = set()
    for message in context.messages:
        if message.role != "tool":
            messages.append({"role": message.role, "content": message.text})
            continue
        n = round_of[message.id]
        if n in written:
            continue
        written.add(n)
        shown = [r for r in rounds[n] if r.call_id in visible]
        messages.append(
            {
                "role": "assistant",
                "content": "",  # llama.cpp's server answers 500 to `content: null` here
                "tool_calls": [
                    {
                        "id": r.call_id,
                        "type": "function",
                        "function": {"name": r.name, "arguments": r.arguments},
                    }
                    for r in shown
                ],
            }
        )
        messages.extend(
            {"role": "tool", "tool_call_id": r.call_id, "content": r.output} for r in shown
        )
    return messages


def _tool_rounds(context: RunContext) -> list[tuple[ToolResult, ...]]:
    """This run's tool results by the model turn that made the calls.

    The newest round (`new_tool_outputs`) is exact; `RunContext` does not say how earlier
    results were grouped, so each of them is a round of its own: a valid history that keeps
    every call before its output.
    """
    results = context.tool_outputs
    newest = len(context.new_tool_outputs)
    earlier = results[: len(results) - newest]
    rounds: list[tuple[ToolResult, ...]] = [(r,) for r in earlier]
    if newest:
        rounds.append(tuple(results[len(results) - newest :]))
    return rounds


def chat_tool_choice(
    choice: Any, functions: Sequence[str], *, after_outputs: bool
) -> str | dict[str, Any] | None:
    """The `tool_choice` sent for the run's, or None to leave it out (the default, "auto").

    A forced choice applies to the turn before tool outputs only: sent again after them, a small
    model calls the tool forever. "required" with a single function names it, which upstreams
    that ignore "required" (llama.cpp) honour.
    """
    if choice == "none":
        return "none"
    if after_outputs:
        return None
    if choice == "required":
        return _named(functions[0]) if len(functions) == 1 else "required"
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return _named(choice["function"]["name"])
    return None  # "auto", or a forced file_search / code_interpreter, which are not forwarded


def turn_seed(seed: int | str, run_id: str, turn: int) -> int:
    """A 31-bit seed for one turn of one run, stable across processes."""
    digest = hashlib.blake2b(f"{seed}:{run_id}:{turn}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def _function(function: Mapping[str, Any]) -> dict[str, Any]:
    """A function tool as upstreams take it: no null keys, `strict` only when true."""
    sent = {"name": function["name"]}
    if function.get("description"):
        sent["description"] = function["description"]
    if function.get("parameters") is not None:
        sent["parameters"] = function["parameters"]
    if function.get("strict"):
        sent["strict"] = True
    return sent


def _without_nones(value: Mapping[str, Any]) -> dict[str, Any]:
    """A response_format without null keys (`json_schema.description: null` and the like)."""
    return {
        key: _without_nones(item) if isinstance(item, Mapping) and key != "schema" else item
        for key, item in value.items()
        if item is not None
    }


def _call_problem(calls: Sequence[UpstreamCall], run: Mapping[str, Any]) -> str | None:
    """Why the run cannot take these calls (the engine's rules), said of the model, or None."""
    names = [t["function"]["name"] for t in run["tools"] if t["type"] == "function"]
    for call in calls:
        if call.name not in names:
            return f"called function {call.name!r}, which is not among the run's functions {names}"
    choice = run["tool_choice"]
    if choice == "none":
        return "called a function although tool_choice is 'none'"
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        forced = choice["function"]["name"]
        for call in calls:
            if call.name != forced:
                return f"called {call.name!r} although tool_choice forces {forced!r}"
    return None
