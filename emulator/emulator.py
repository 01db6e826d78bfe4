"""`Emulator`: the facade a user holds. It wires the layers below (settings, backend, request
pipeline, interception registry) and owns nothing they own.

One object, used the same way as a context manager, with `start()`/`stop()`, as a pytest
fixture or behind a local server (like a moto backend behind its decorator and server mode).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from .adapters.registry import REGISTRY
from .adapters.transports import Httpx2Transport, HttpxTransport
from .backend import Backend
from .engine.models import ModelInfo, ModelRegistry
from .engine.outcomes import ResponderError
from .engine.reply import Reply
from .engine.responders import Responder, Rules, Script, default_responder
from .engine.tokens import TokenCounter
from .engine.truncation import TruncationReport
from .http import control
from .http.asgi import AsgiApp, function_app
from .http.faults import Fault, FaultPlan
from .http.pipeline import Pipeline, RecordedRequest, Response
from .retrieval.search import Ranker
from .state import snapshot as snapshots
from .state.clock import Clock, FrozenClock, RealClock
from .state.settings import Chunker, HoldStatus, Progress, Settings, split_words
from .wire.objects import Obj

DEFAULT_BASE_URL = "https://api.openai.com/v1"


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
        request_log: int | None = None,
        request_log_body: int | None = None,
    ) -> None:
        """`request_log` keeps only the newest N requests in `requests` and `request_log_body`
        only the first N bytes of each body (both None: keep everything, the default)."""
        if clock == "frozen":
            clock = FrozenClock()
        elif clock == "real":
            clock = RealClock()
        for name, bound in (("request_log", request_log), ("request_log_body", request_log_body)):
            if bound is not None and (isinstance(bound, bool) or bound < 0):
                raise ValueError(f"{name} is a count >= 0, or None for no limit")
        self.settings = Settings(
            required_key=require_key,
            isolate_keys=isolate_keys,
            poll_after_ms=poll_after_ms,
            request_log=request_log,
            request_log_body=request_log_body,
        )
        if responder is not None:
            self.settings.responder = responder
        if chunker is not None:
            self.chunker = chunker
        self.backend = Backend(clock=clock, seed=seed, settings=self.settings)
        self.pipeline = Pipeline(self.backend, self.settings, base_urls)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Begin intercepting httpx and httpx2 requests to the base URLs.

        Raises `BaseURLInUseError` when another started emulator owns one of them: two started
        emulators need different base URLs.
        """
        REGISTRY.register(self.pipeline)
        return self

    def stop(self) -> None:
        """Stop intercepting; state is kept (use `reset()` to clear it)."""
        REGISTRY.unregister(self.pipeline)

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
        self.pipeline.reset()

    # --- requests ------------------------------------------------------------------------

    @property
    def base_urls(self) -> tuple[str, ...]:
        """The base URLs this emulator answers for while started."""
        return self.pipeline.base_urls

    @property
    def faults(self) -> FaultPlan:
        """The queued faults (`emu.faults.pending`: how many more requests they will fail)."""
        return self.pipeline.faults

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one HTTP request for a full URL, as the adapters do."""
        return self.pipeline.handle(self.pipeline.request(method, url, headers, body))

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first: all of them unless `request_log` bounds
        the log (copies: changing them changes nothing)."""
        return self.pipeline.requests

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        """The requests received for one route, oldest first: `len(emu.calls("POST",
        "/threads/{thread_id}/runs"))` counts them (respx's `route.call_count`).

        `path` is relative to the base URL; a `{name}` part matches any one path segment.
        """
        if not path.startswith("/"):
            raise ValueError(
                f"a route path starts with '/', like '/threads/{{thread_id}}': {path!r}"
            )
        parts = re.split(r"(\{[^/{}]*\})", path.rstrip("/") or "/")
        pattern = re.compile(
            "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "/?"
        )
        method = method.upper()
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def transport(self) -> HttpxTransport:
        """An httpx transport answering from this emulator, for sync and async clients, with
        nothing patched and no `start()` needed:
        `openai.OpenAI(http_client=httpx.Client(transport=emu.transport()))`."""
        return HttpxTransport(self.pipeline)

    def transport2(self) -> Httpx2Transport:
        """The same for httpx2 (what `openai` >= 3 sends with):
        `openai.OpenAI(http_client=httpx2.Client(transport=emu.transport2()))`."""
        return Httpx2Transport(self.pipeline)

    # --- responders ----------------------------------------------------------------------

    def script(
        self, *replies: Reply | str | Responder | list[Reply | str], assistant: str | None = None
    ) -> Script:
        """Answer model turns with these replies, in order (for one assistant, or all).

        Each call replaces the responder with a new script; one list is taken as the replies.
        Anything that is not a reply raises `TypeError` here, not later in a run.
        """
        script = Script(*replies)
        self.respond_with(script, assistant=assistant)
        return script

    def rules(self, *, assistant: str | None = None) -> Rules:
        """The rule set answering runs (for one assistant, or all); add rules with
        `.add(pattern, then=...)`. Repeated calls return the same set, so rules accumulate;
        `.clear()` empties it and `emu.respond_with(None)` goes back to the default."""
        current = (
            self.settings.responder
            if assistant is None
            else self.settings.assistant_responders.get(assistant)
        )
        if isinstance(current, Rules):
            return current
        rules = Rules()
        self.respond_with(rules, assistant=assistant)
        return rules

    def respond_with(self, responder: Responder | None, *, assistant: str | None = None) -> None:
        """Use a responder for every run, or only for runs of one assistant (by id or name);
        None: back to the default responder (or, for one assistant, to the one for all)."""
        if responder is not None and not callable(responder):
            raise TypeError(
                f"a responder is a callable taking the RunContext, not {type(responder).__name__}"
            )
        if assistant is None:
            self.settings.responder = default_responder if responder is None else responder
        elif responder is None:
            self.settings.assistant_responders.pop(assistant, None)
        else:
            self.settings.assistant_responders[assistant] = responder

    @property
    def responder_errors(self) -> list[ResponderError]:
        """Exceptions raised by responders; each one failed its run with `server_error`."""
        return self.backend.responder_errors

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
        with self.backend.lock:
            if run_id is None:
                self.settings.holds.clear()
            elif None in self.settings.holds:
                self.settings.holds[run_id] = None  # exempt from the hold on all runs
            else:
                self.settings.holds.pop(run_id, None)

    # --- files and vector stores --------------------------------------------------------

    def search_with(self, ranker: Ranker | None) -> None:
        """Rank vector store searches (the search endpoint and file_search in runs) with
        `ranker(query, chunks) -> scores` (one score in 0..1 per chunk, e.g. cosine similarity
        of real embeddings); None goes back to the built-in BM25 ranking."""
        if ranker is not None and not callable(ranker):
            raise TypeError("a ranker is a function (query, chunks) -> scores")
        with self.backend.lock:
            self.settings.ranker = ranker

    @property
    def allow_file_downloads(self) -> bool:
        """Whether `GET /files/{id}/content` serves `assistants` and `user_data` files (the
        real service answered a 400 for those; default False)."""
        return self.settings.allow_file_downloads

    @allow_file_downloads.setter
    def allow_file_downloads(self, value: bool) -> None:
        self.settings.allow_file_downloads = bool(value)

    def hold_ingestion(self) -> None:
        """Keep every vector store file `in_progress` until `release_ingestion()`."""
        self.settings.hold_ingestion = True

    def release_ingestion(self) -> None:
        """Let held files finish: at once in `resting` progress, on the next read in `step`."""
        with self.backend.lock:
            self.settings.hold_ingestion = False
            if self.settings.progress == "resting":
                library = self.backend.library
                library.finish_ingestion(list(library.vector_stores.stores))

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
        with self.backend.lock:
            self.settings.models.register(info)

    def use_counter(self, counter: TokenCounter | None) -> None:
        """Count tokens with this counter for every model (None: back to the bundled tiktoken).

        Any object with `count(text) -> int` and `truncate(text, max_tokens) -> str` will do.
        """
        with self.backend.lock:
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
        return self.backend.truncation(run_id)

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
        return self.settings.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency cannot be negative")
        self.settings.latency = float(seconds)

    # --- serving and snapshots -----------------------------------------------------------

    def asgi_app(self, *, prefix: str = "/v1") -> AsgiApp:
        """This emulator as an ASGI app (API under `prefix`, the control API and dashboard under
        `/_emulator`), for uvicorn or `ASGITransport`."""
        app = function_app(
            lambda request: control.handle(self, request), self.pipeline.render_error
        )
        mounts = {control.PREFIX: app}
        return AsgiApp(self.pipeline, prefix=prefix, mounts=mounts)

    def snapshot(self, path: str | Path | None = None) -> dict[str, Any]:
        """The whole state as JSON-serialisable data (also written to `path` if given)."""
        data = snapshots.take(self.backend, self.settings)
        if path is not None:
            Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return data

    def load(self, source: snapshots.Source) -> Emulator:
        """Replace the state with a snapshot (a JSON file path or `snapshot()` data).

        Objects, run bookkeeping, clock time, id sequence, progress, holds and models are
        restored exactly; responders, recorded requests, faults and HTTP options are kept.
        """
        snapshots.restore(self.backend, self.settings, snapshots.read(source))
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
        return {a["id"]: a for a in self.backend.objects("assistants")}

    @property
    def threads(self) -> dict[str, Obj]:
        """Every thread by id (copies, in creation order)."""
        return {t["id"]: t for t in self.backend.objects("threads")}

    def messages(self, thread_id: str) -> list[Obj]:
        """A thread's messages, oldest first (copies)."""
        return self.backend.objects("messages", thread_id)

    def runs(self, thread_id: str) -> list[Obj]:
        """A thread's runs, oldest first (copies)."""
        return self.backend.objects("runs", thread_id)

    def steps(self, run_id: str) -> list[Obj]:
        """A run's steps, oldest first (copies)."""
        return self.backend.objects("steps", run_id)

    @property
    def files(self) -> dict[str, Obj]:
        """Every file by id (copies, in upload order); `file_data(id)` has the bytes."""
        return {f["id"]: f for f in self.backend.files()}

    def file_data(self, file_id: str) -> bytes:
        """The bytes of a file, whatever its purpose (KeyError for an unknown file)."""
        return self.backend.file_data(file_id)

    @property
    def vector_stores(self) -> dict[str, Obj]:
        """Every vector store by id, as the API shows it (copies, in creation order)."""
        return {s["id"]: s for s in self.backend.vector_stores()}

    def check_invariants(self) -> list[str]:
        """Every broken cross-object rule in the state (empty when consistent)."""
        return self.backend.check_invariants()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.backend.counts().items())
        return f"<Emulator {counts} clock={self.clock!r}>"


__all__ = ["Emulator", "RecordedRequest"]
