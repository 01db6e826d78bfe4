"""`Emulator`: one fake Assistants service, its clock and responders, and its interceptors.

One object, used the same way as a context manager, with `start()`/`stop()`, as a pytest
fixture or behind a local server (like a moto backend behind its decorator and server mode).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from .adapters.registry import Httpx2Interceptor, HttpxInterceptor
from .backend import Backend, Settings
from .engine.models import ModelInfo, ModelRegistry
from .engine.reply import Reply
from .engine.responders import Responder, Rules, Script
from .engine.runs import HoldStatus, Progress, ResponderError, split_words
from .engine.tokens import TokenCounter
from .engine.truncation import TruncationReport
from .http.asgi import AsgiApp
from .http.faults import ConnectionDropped, Fault, FaultPlan, RequestTimedOut
from .http.pipeline import Options, Request, Response, dispatch
from .state import snapshot as snapshots
from .state.clock import Clock, FrozenClock, RealClock
from .state.store import Obj, clone

DEFAULT_BASE_URL = "https://api.openai.com/v1"
Chunker = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class RecordedRequest:
    """A request the emulator received, for assertions on what the code under test sent."""

    method: str
    url: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = field(default=None, compare=False)

    def json(self) -> Any:
        """The decoded JSON body (`None` when there is none)."""
        return json.loads(self.body) if self.body.strip() else None


class Emulator:
    """An in-memory OpenAI Assistants API (v2).

    `with Emulator() as emu:` intercepts every httpx and httpx2 request to the base URLs
    (default `https://api.openai.com/v1`), so the official SDK works unchanged.
    """

    def __init__(
        self,
        *,
        seed: int | str = 0,
        clock: Clock | Literal["frozen", "real"] = "frozen",
        base_urls: Iterable[str] = (DEFAULT_BASE_URL,),
        responder: Responder | None = None,
        require_key: str | None = None,
        isolate_keys: bool = False,
        poll_after_ms: int | None = 0,
        chunker: Chunker | None = None,
    ) -> None:
        if clock == "frozen":
            clock = FrozenClock()
        elif clock == "real":
            clock = RealClock()
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        self.settings = Settings()
        if responder is not None:
            self.settings.responder = responder
        if chunker is not None:
            self.chunker = chunker
        self.backend = Backend(clock=clock, seed=seed, settings=self.settings)
        self.options = Options(
            required_key=require_key, isolate_keys=isolate_keys, poll_after_ms=poll_after_ms
        )
        self.faults = FaultPlan()
        self._requests: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self._interceptors = (HttpxInterceptor(self), Httpx2Interceptor(self))
        self._started = False

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Begin intercepting httpx and httpx2 requests to the base URLs."""
        if not self._started:
            for interceptor in self._interceptors:
                interceptor.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop intercepting; state is kept (use `reset()` to clear it)."""
        if self._started:
            for interceptor in reversed(self._interceptors):
                interceptor.stop()
            self._started = False

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget all objects, recorded requests, responder errors and pending faults."""
        self.backend.reset()
        self.faults.clear()
        with self._log_lock:
            self._requests.clear()

    # --- requests ------------------------------------------------------------------------

    def _base_for(self, url: str) -> str | None:
        for base in self.base_urls:
            if url == base or url.startswith((base + "/", base + "?")):
                return base
        return None

    def owns(self, url: str) -> bool:
        """Whether a URL is one of this emulator's (under a base URL)."""
        return self._base_for(url) is not None

    def api_path(self, url: str) -> tuple[str, list[tuple[str, str]]]:
        """The path relative to the owning base URL (whole path if none), and the query pairs."""
        parts = urlsplit(url)
        base = self._base_for(url)
        base_path = urlsplit(base).path.rstrip("/") if base is not None else ""
        return parts.path[len(base_path) :] or "/", parse_qsl(parts.query, keep_blank_values=True)

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one HTTP request (what every adapter calls)."""
        path, query = self.api_path(url)
        return self.handle_path(method, path, query, headers, body, url=url)

    def handle_path(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        *,
        url: str = "",
    ) -> Response:
        """Answer a request already split into an API path and query pairs."""
        lowered = {k.lower(): v for k, v in headers.items()}
        record = RecordedRequest(method.upper(), url or path, path, query, lowered, body)
        request_id = self.backend.ids.request_id()
        fault = self.faults.take(method, path)
        if fault is not None:
            self._log(record, fault.status if fault.kind == "status" else None)
            if fault.kind == "disconnect":
                raise ConnectionDropped(path)
            if fault.kind == "timeout":
                raise RequestTimedOut(path)
            status, fault_headers, payload = fault.response()
            return Response(status, {**fault_headers, "x-request-id": request_id}, payload)
        response = dispatch(
            self.backend,
            Request(method.upper(), path, query, lowered, body),
            self.options,
            request_id,
        )
        self._log(record, response.status)
        return response

    def _log(self, record: RecordedRequest, status: int | None) -> None:
        with self._log_lock:
            self._requests.append(
                RecordedRequest(
                    record.method,
                    record.url,
                    record.path,
                    record.query,
                    record.headers,
                    record.body,
                    status,
                )
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (copies: changing them changes nothing)."""
        with self._log_lock:
            return [
                dataclasses.replace(r, headers=dict(r.headers), query=list(r.query))
                for r in self._requests
            ]

    # --- responders ----------------------------------------------------------------------

    def script(self, *replies: Reply | str | Responder, assistant: str | None = None) -> Script:
        """Answer model turns with these replies, in order (for one assistant, or all)."""
        script = Script(*replies)
        self.respond_with(script, assistant=assistant)
        return script

    def rules(self, *, assistant: str | None = None) -> Rules:
        """A fresh rule set that answers from now on; add rules with `.add(pattern, then)`."""
        rules = Rules()
        self.respond_with(rules, assistant=assistant)
        return rules

    def respond_with(self, responder: Responder, *, assistant: str | None = None) -> None:
        """Use a responder for every run, or only for runs of one assistant (by id or name)."""
        if assistant is None:
            self.settings.responder = responder
        else:
            self.settings.assistant_responders[assistant] = responder

    @property
    def responder_errors(self) -> list[ResponderError]:
        """Exceptions raised by responders; each one failed its run with `server_error`."""
        return list(self.backend.runs.responder_errors)

    # --- time and progress ---------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock every timestamp comes from (`advance(seconds=..., minutes=...)`)."""
        return self.backend.clock

    @property
    def progress(self) -> Progress:
        """`"resting"`: runs finish within the request; `"step"`: one status per observation."""
        return self.settings.progress

    @progress.setter
    def progress(self, value: Progress) -> None:
        if value not in ("resting", "step"):
            raise ValueError("progress is 'resting' or 'step'")
        self.settings.progress = value

    @property
    def chunker(self) -> Chunker:
        """How streamed text and tool-call arguments are split into deltas (`None` resets).

        A function of the text returning pieces that join back to it; the default splits
        into words with their leading space (`"Hi there!"` -> `["Hi", " there", "!"]`). It
        runs for every reply, streamed or not, so a faulty chunker fails the run either way
        (like a responder error). A text reply's own `reply.text(value, chunks=[...])` wins.
        """
        return self.settings.chunker

    @chunker.setter
    def chunker(self, value: Chunker | None) -> None:
        if value is not None and not callable(value):
            raise TypeError("chunker is a function of the text returning its pieces")
        self.settings.chunker = split_words if value is None else value

    def hold(self, at: HoldStatus = "in_progress", *, run_id: str | None = None) -> None:
        """Stop runs (all, or one) at `queued` or `in_progress` until `release()`.

        A stream of a held run ends (`done`) at the held status, unless the client acts while
        handling that event: a cancel, `release()` or a clock move then continues the stream.
        """
        if at not in ("queued", "in_progress"):
            raise ValueError("runs can be held at 'queued' or 'in_progress'")
        self.settings.holds[run_id] = at

    def release(self, run_id: str | None = None) -> None:
        """Lift holds (all when `run_id` is None, else that run's, even from a hold on all
        runs); released runs move on when next observed."""
        with self.backend.store.lock:
            if run_id is None:
                self.settings.holds.clear()
            elif None in self.settings.holds:
                self.settings.holds[run_id] = None  # exempt from the hold on all runs
            else:
                self.settings.holds.pop(run_id, None)

    # --- tokens --------------------------------------------------------------------------

    @property
    def models(self) -> ModelRegistry:
        """The known models: `emu.models.get("gpt-4o").context_window` (snapshots resolve)."""
        return self.settings.models

    def register_model(self, info: ModelInfo) -> None:
        """Add or override a model's context window, output limit and encoding.

        `emu.register_model(ModelInfo("acme-1", context_window=4096, max_output_tokens=1024,
        encoding="cl100k_base"))`: runs on "acme-1" (and "acme-1-2025-01-01") use these limits.
        """
        with self.backend.store.lock:
            self.settings.models.register(info)

    def use_counter(self, counter: TokenCounter | None) -> None:
        """Count tokens with this counter for every model (None: back to the bundled tiktoken).

        Any object with `count(text) -> int` and `truncate(text, max_tokens) -> str` will do.
        """
        with self.backend.store.lock:
            self.settings.counter = None if counter is None else (lambda _info: counter)

    def truncation(self, run_id: str) -> list[TruncationReport]:
        """The prompt of each model turn of a run, oldest turn first (a run's tool loop takes
        several turns; a run that never reached the model has none).

        Each `TruncationReport` tells which messages the model saw (`visible`: `kept` whole or
        `shortened`, with their `text` and `tokens`) and which it did not (`dropped_ids`,
        `dropped`), what the prompt cost (`prompt_tokens`, equal to that turn's run step
        `usage.prompt_tokens`) and the `budget` it had; `report.account(message_id)` finds one
        message. Raises KeyError for an unknown run.
        """
        with self.backend.store.lock:
            state = self.backend.runs.states.get(run_id)
            if state is None:
                raise KeyError(f"no run {run_id!r}")
            return list(state.reports)

    # --- faults --------------------------------------------------------------------------

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 500,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer the next matching requests with an error status (429, 500, 503, ...).

        `path` is a regex searched in the API path (`/threads/.+/runs$`); `retry_after` (seconds)
        sends `retry-after` and `retry-after-ms`, which the SDK waits for before retrying.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"a failure status is 4xx or 5xx, not {status}")
        return self.faults.add(Fault("status", status, times, method, path, retry_after, message))

    def drop_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Close the connection without answering the next matching requests."""
        return self.faults.add(Fault("disconnect", 0, times, method, path))

    def timeout_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Let the next matching requests time out."""
        return self.faults.add(Fault("timeout", 0, times, method, path))

    @property
    def latency(self) -> float:
        """Seconds every request waits before it is answered (0 by default; real time)."""
        return self.faults.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        self.faults.latency = float(seconds)

    # --- serving and snapshots -----------------------------------------------------------

    def asgi_app(self, *, prefix: str = "/v1") -> AsgiApp:
        """This emulator as an ASGI app (API under `prefix`), for uvicorn or `ASGITransport`."""
        return AsgiApp(self, prefix=prefix)

    def snapshot(self, path: str | Path | None = None) -> dict[str, Any]:
        """The whole state as JSON-serialisable data (also written to `path` if given)."""
        data = snapshots.take(self)
        if path is not None:
            Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return data

    def load(self, source: snapshots.Source) -> Emulator:
        """Replace the state with a snapshot (a JSON file path or `snapshot()` data).

        Objects, run bookkeeping, clock time, id sequence, progress, holds and models are
        restored exactly; responders, recorded requests, faults and HTTP options are kept.
        """
        snapshots.restore(self, snapshots.read(source))
        return self

    @classmethod
    def from_snapshot(cls, source: snapshots.Source, **options: Any) -> Emulator:
        """A new emulator in a snapshot's state, with its HTTP options unless `options` say
        otherwise (`options` are `Emulator(...)` keyword arguments)."""
        data = snapshots.read(source)
        return cls(**{**data["options"], **options}).load(data)

    # --- inspection ----------------------------------------------------------------------

    @property
    def assistants(self) -> dict[str, Obj]:
        """Every assistant by id (copies, in creation order)."""
        return {a["id"]: a for a in self.backend.copy_of(self.backend.store.assistants.values())}

    @property
    def threads(self) -> dict[str, Obj]:
        """Every thread by id (copies, in creation order)."""
        return {t["id"]: t for t in self.backend.copy_of(self.backend.store.threads.values())}

    def messages(self, thread_id: str) -> list[Obj]:
        """A thread's messages, oldest first (copies)."""
        return self._children(self.backend.store.messages, thread_id, "thread")

    def runs(self, thread_id: str) -> list[Obj]:
        """A thread's runs, oldest first (copies)."""
        return self._children(self.backend.store.runs, thread_id, "thread")

    def steps(self, run_id: str) -> list[Obj]:
        """A run's steps, oldest first (copies)."""
        return self._children(self.backend.store.steps, run_id, "run")

    def _children(self, table: Mapping[str, Any], key: str, kind: str) -> list[Obj]:
        with self.backend.store.lock:
            thread_id = key if kind == "thread" else self.backend.store.run_thread.get(key)
            if thread_id in self.backend.store.runs:  # views show expiry, like an API read
                self.backend.runs.observe(thread_id, poll=False)
            collection = table.get(key)
            if collection is None:
                raise KeyError(f"no {kind} {key!r}")
            return clone(collection.values())

    def check_invariants(self) -> list[str]:
        """Every broken cross-object rule in the state (empty when consistent)."""
        with self.backend.store.lock:
            return self.backend.store.check_invariants()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.backend.store.counts().items())
        return f"<Emulator {counts} clock={self.clock!r}>"


__all__ = ["Emulator", "RecordedRequest"]
