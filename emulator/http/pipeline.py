"""The request pipeline: one function answers every request, whichever adapter brought it.

`Pipeline.handle(request)` does, in this order: fault injection, recording, request id,
authentication, routing, locking and rendering. Adapters (respx for httpx, the httpx2 patch, the
ASGI app) only convert their library's request into a `Request` and the `Response` back; they
know the pipeline through the small `RequestHandler` protocol, never the `Emulator`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

from ..backend import Backend
from ..engine.stream import FrameBatch
from ..state.settings import Settings
from ..wire.errors import APIError, AuthenticationError, internal_error
from ..wire.objects import Page
from ..wire.render import DONE_FRAME, error_frame, event_frame, pretty_json
from . import routes
from .faults import ConnectionDropped, FaultPlan, RequestTimedOut
from .headers import RawHeaders
from .routes import Binary, Call, Request, Stream
from .routes.base import Answer

__all__ = ["Pipeline", "RecordedRequest", "Request", "RequestHandler", "Response"]

log = logging.getLogger("emulator")
Headers = Mapping[str, str] | Iterable[tuple[str, str]]  # a mapping or (name, value) pairs
LogEntry = tuple[
    str,
    str,
    str,
    tuple[tuple[str, str], ...],
    bytes | tuple[bytes, ...] | dict[str, str],
    bytes,
    int | None,
    int,
]
"""A logged request as plain data, which the garbage collector stops following: method, URL,
path, query, headers (`RawHeaders.packed()`, else a copy), body (cut to `request_log_body`),
status and the body's size."""
OPENAI_VERSION = "2020-10-01"


@dataclass(slots=True)
class Response:
    """A rendered answer; `events` is set (and `body` empty) for a server-sent event stream.
    `elapsed`: seconds from the request to its answer, the emulated latency included."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    events: Iterable[bytes] | None = None
    elapsed: float = 0.0

    @property
    def content(self) -> bytes:
        """The whole body, for adapters that do not stream (reads a stream to its end)."""
        if self.events is None:
            return self.body
        if not isinstance(self.events, list):
            self.events = list(self.events)
        return b"".join(self.events)

    def json(self) -> Any:
        return json.loads(self.content)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the emulator received, for assertions on what the code under test sent.

    `body` is the whole body unless the log keeps only the start of bodies
    (`request_log_body`); `body_size` is always the length that was received.
    """

    method: str
    url: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = field(default=None, compare=False)
    body_size: int = field(default=-1, compare=False)  # -1: len(body)

    def __post_init__(self) -> None:
        if self.body_size < 0:
            object.__setattr__(self, "body_size", len(self.body))

    @property
    def body_cut(self) -> bool:
        """Whether the log kept only the start of the body."""
        return len(self.body) < self.body_size

    def json(self) -> Any:
        """The decoded JSON body (`None` when there is none)."""
        return json.loads(self.body) if self.body.strip() else None


class RequestHandler(Protocol):
    """What an adapter needs from the emulator: which URLs are its own, how slowly to
    answer, and the answer itself."""

    @property
    def base_urls(self) -> tuple[str, ...]: ...

    def base_for(self, url: str) -> str | None: ...

    @property
    def latency(self) -> float: ...

    def request(
        self, method: str, url: str, headers: Headers, body: bytes, *, lowered: bool = False
    ) -> Request: ...

    def handle(self, request: Request) -> Response: ...

    def render_error(self, error: APIError) -> Response: ...


def authenticate(headers: Mapping[str, str], required_key: str | None) -> str:
    """The request's bearer key (or Azure's `api-key` header); 401 when missing or different."""
    authorization = headers.get("authorization", "")
    scheme, _, key = authorization.partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else ""
    key = key or headers.get("api-key", "").strip()
    if not key:
        raise AuthenticationError(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or "
            "as the password field (with blank username) if you're accessing the API from your "
            "browser and are prompted for a username and password. You can obtain an API key "
            "from https://platform.openai.com/account/api-keys."
        )
    if required_key is not None and key != required_key:
        shown = f"{key[:3]}{'*' * max(len(key) - 7, 0)}{key[-4:]}" if len(key) > 8 else key
        raise AuthenticationError(
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    return key


class Pipeline:
    """Answers the requests of one emulator (its `RequestHandler`), and records them."""

    def __init__(self, backend: Backend, settings: Settings, base_urls: Iterable[str]) -> None:
        self.backend = backend
        self.settings = settings
        self._lock, self._ids = backend.lock, backend.ids  # the backend keeps both for life
        self.base_urls = tuple(url.rstrip("/") for url in base_urls)
        self._bases = [(base, (base + "/", base + "?")) for base in self.base_urls]
        self.faults = FaultPlan()
        self._requests: deque[LogEntry] = deque()
        self._log_lock = threading.Lock()

    @property
    def latency(self) -> float:
        latency: float = self.settings.latency
        return latency

    def reset(self) -> None:
        """Forget recorded requests and pending faults (latency back to 0)."""
        self.faults.clear()
        self.settings.latency = 0.0
        with self._log_lock:
            self._requests.clear()

    # --- requests from URLs --------------------------------------------------------------

    def base_for(self, url: str) -> str | None:
        """The base URL that owns `url`, if any."""
        for base, under in self._bases:
            if url.startswith(under) or url == base:
                return base
        return None

    def request(
        self, method: str, url: str, headers: Headers, body: bytes, *, lowered: bool = False
    ) -> Request:
        """A request for a full URL, its path relative to the owning base URL (whole path if
        none), its query split into pairs and its header names lower-cased (`lowered`: a
        mapping read by lower-case names already, as the adapters' `RawHeaders`, kept as is)."""
        base = self.base_for(url)
        if base is None:
            parts = urlsplit(url)
            path, raw_query = parts.path, parts.query
        else:  # the common case, without urlsplit's general parsing
            path, _, raw_query = url[len(base) :].partition("#")[0].partition("?")
        path = path or "/"
        query: Sequence[tuple[str, str]] = (
            parse_qsl(raw_query, keep_blank_values=True) if raw_query else ()
        )
        if lowered and isinstance(headers, (RawHeaders, Mapping)):  # exact type: no ABC check
            names = headers
        else:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            names = dict(pairs) if lowered else {k.lower(): v for k, v in pairs}
        return Request(method.upper(), path, query, names, body, url)

    # --- the pipeline: fault, record, request id, auth, route, lock, render --------------

    def handle(self, request: Request) -> Response:
        """Answer one request; every failure becomes an OpenAI error response.

        Injected network faults (`ConnectionDropped`, `RequestTimedOut`) propagate to the
        adapter, which fails the request as its HTTP library would.
        """
        started = time.perf_counter()
        fault = self.faults.take(request.method, request.path)
        status: int | None = None
        try:
            request_id = self._ids.request_id()
            try:
                if fault is not None:
                    fault.strike(request.path)
                key = authenticate(request.headers, self.settings.required_key)
                # HEAD is GET without a body (RFC 9110 §9.3.2); the real API never answered 405.
                method = "GET" if request.method == "HEAD" else request.method
                handler, params = routes.resolve(method, request.path)
                scope = self.backend.scoped(key if self.settings.isolate_keys else None)
                with self._lock:  # render before another request can change the objects
                    result = handler(Call(scope, request, params))
                    response = self._render(result, request_id, started)
            except APIError as error:
                log.debug(
                    "%s %s answered %d: %s (param=%s, code=%s)",
                    request.method,
                    request.path,
                    error.status,
                    error.message,
                    error.param,
                    error.code,
                )
                response = self.render_error(error, request_id, started)
            except (ConnectionDropped, RequestTimedOut):
                raise
            except Exception as error:  # a bug in the emulator: say so, as the real service would
                log.error(
                    "request %s %r failed: %r", request.method, request.path, error, exc_info=error
                )
                response = self.render_error(internal_error(), request_id, started)
            status = response.status
            if request.method == "HEAD":
                response = Response(response.status, response.headers)
            response.elapsed = self.settings.latency + time.perf_counter() - started
            return response
        finally:
            self._record(request, status)

    def _render(self, result: Answer, request_id: str, started: float) -> Response:
        if type(result) is dict:  # most answers: one object
            return Response(200, self._headers(request_id, started), pretty_json(result))
        if isinstance(result, Stream):
            headers = {
                "content-type": "text/event-stream; charset=utf-8",
                "x-request-id": request_id,
                "openai-version": OPENAI_VERSION,
            }
            return Response(200, headers, events=_sse(result.frames))
        if isinstance(result, Binary):
            headers = self._headers(request_id, started)
            headers["content-type"] = result.content_type
            headers["content-disposition"] = attachment_disposition(result.filename)
            return Response(200, headers, result.data)
        body = result.render() if isinstance(result, Page) else result
        return Response(200, self._headers(request_id, started), pretty_json(body))

    def render_error(
        self, error: APIError, request_id: str | None = None, started: float | None = None
    ) -> Response:
        """Every wire error, as the service answers it: the envelope, its status and headers."""
        if request_id is None:
            request_id = self._ids.request_id()
        headers = {**self._headers(request_id, started), **error.headers}
        return Response(error.status, headers, pretty_json(error.body()))

    def _headers(self, request_id: str, started: float | None) -> dict[str, str]:
        elapsed = 0.0 if started is None else time.perf_counter() - started
        headers = {
            "content-type": "application/json",
            "x-request-id": request_id,
            "openai-version": OPENAI_VERSION,
            "openai-processing-ms": str(int(elapsed * 1000)),
        }
        if self.settings.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.settings.poll_after_ms)
        return headers

    # --- recording -----------------------------------------------------------------------

    def _record(self, request: Request, status: int | None) -> None:
        """Log the request: the newest `request_log` of them, bodies cut to `request_log_body`
        bytes (both unbounded when None, the in-process default); `requests` makes the records.
        """
        keep, cap = self.settings.request_log, self.settings.request_log_body
        body = request.body
        size = len(body)
        if cap is not None and size > cap:
            body = body[:cap]
        headers = request.headers
        entry = (
            request.method,
            request.url or request.path,
            request.path,
            tuple(request.query),
            headers.packed() if isinstance(headers, RawHeaders) else dict(headers),
            body,
            status,
            size,
        )
        if keep is None:  # an append is atomic: no lock to take
            self._requests.append(entry)
            return
        with self._log_lock:
            self._requests.append(entry)
            while len(self._requests) > keep:
                self._requests.popleft()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The logged requests, oldest first: every one received so far unless the log is
        bounded (`request_log`). Copies: changing them changes nothing."""
        with self._log_lock:
            logged = list(self._requests)
        return [
            RecordedRequest(
                method,
                url,
                path,
                list(query),
                dict(headers) if isinstance(headers, dict) else dict(RawHeaders.unpack(headers)),
                body,
                status,
                size,
            )
            for method, url, path, query, headers, body, status, size in logged
        ]


def attachment_disposition(filename: str) -> str:
    """`attachment; filename="..."` as recorded; a name a header cannot carry as is also gets
    the RFC 6266 `filename*` form, with a plain-ASCII fallback."""
    if filename.isascii() and filename.isprintable() and '"' not in filename:
        return f'attachment; filename="{filename}"'
    fallback = "".join(c if c.isascii() and c.isprintable() and c != '"' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _sse(batches: Iterator[FrameBatch]) -> Iterator[bytes]:
    """One `event:`/`data:` frame per event, then `done`; a failure mid-stream is an `error`.

    The events one transition reported go out as one chunk: SSE readers split events wherever
    the chunks fall, and fewer chunks cost the client's HTTP library less."""
    try:
        for batch in batches:
            yield b"".join([event_frame(name, data) for name, data in batch])
    except Exception as error:
        if not isinstance(error, APIError):
            log.error("stream failed: %r", error, exc_info=error)
            error = internal_error()
        yield error_frame(error)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    yield DONE_FRAME
