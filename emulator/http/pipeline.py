"""HTTP surface: method + path -> handler, request parsing, JSON and SSE rendering, errors.

Framework-free on purpose: adapters (httpx, httpx2, ASGI) turn their request into a
`Request`, call `dispatch`, and turn the `Response` back. Paths are relative to the API root
(`/assistants`, `/threads/{thread_id}/runs`, ...).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from ..backend import Backend, ListQuery
from ..engine.runs import Events
from ..state.store import Obj, Page
from ..wire import requests as schemas
from ..wire.errors import APIError, AuthenticationError, InvalidRequestError, MethodNotAllowedError
from ..wire.errors import NotFoundError as RouteNotFound
from ..wire.render import pretty_json

log = logging.getLogger("emulator")
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 100  # deeper bodies are refused before anything recurses over them
INCLUDE_FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
ID_PREFIXES = {
    "assistant_id": "asst",
    "thread_id": "thread",
    "message_id": "msg",
    "run_id": "run",
    "step_id": "step",
}
BodyT = TypeVar("BodyT", bound=BaseModel)


@dataclass(frozen=True)
class Request:
    """A request as the routes see it; `path` is relative to the API root."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    """A rendered answer; `events` is set (and `body` empty) for a server-sent event stream."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    events: Iterable[bytes] | None = None

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


@dataclass
class Call:
    """One request being handled: its parsed parts and the backend it acts on."""

    backend: Backend
    request: Request
    params: dict[str, str]
    owner: str | None

    def body(self, model: type[BodyT]) -> BodyT:
        return schemas.parse(model, _decode_json(self.request.body))

    def query(self, *, extra: tuple[str, ...] = ()) -> ListQuery:
        return parse_list_query(self.request.query, extra=extra)

    def query_value(self, name: str) -> str | None:
        for key, value in self.request.query:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Stream:
    """A `stream: true` answer: (event, compact JSON) frames, made as the client reads them."""

    frames: Iterator[tuple[str, str]]


Handler = Callable[[Call], "Obj | Page | Stream"]


def _decode_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequestError(
            f"Request body too large: {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.",
            code="request_too_large",
        )
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON. If you have trouble figuring out how to fix "
            "this, please contact us through our help center at help.openai.com.)"
        ) from None
    if not _shallow(data):
        raise _too_deep()
    return data


def _too_deep() -> InvalidRequestError:
    return InvalidRequestError(
        f"Invalid body: JSON nested more than {MAX_JSON_DEPTH} levels deep.", code="invalid_value"
    )


def _shallow(value: Any) -> bool:
    """Whether decoded JSON nests at most `MAX_JSON_DEPTH` levels (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list) and item:
            if depth > MAX_JSON_DEPTH:
                return False
            stack.extend((child, depth + 1) for child in item)
    return True


def parse_list_query(query: list[tuple[str, str]], *, extra: tuple[str, ...] = ()) -> ListQuery:
    """`limit`, `order`, `after`, `before` with the real defaults and limits."""
    values = dict(query)
    limit = 20
    if "limit" in values:
        raw = values["limit"]
        if not re.fullmatch(r"-?\d+", raw):
            raise InvalidRequestError(
                f"Invalid type for 'limit': expected an integer, but got '{raw}' instead.",
                param="limit",
                code="invalid_type",
            )
        # Past 4,300 digits `int()` raises; any such number is out of range anyway.
        limit = int(raw) if len(raw) < 20 else (-(10**20) if raw.startswith("-") else 10**20)
        if limit < 1 or limit > 100:
            above = limit > 100
            raise InvalidRequestError(
                f"Invalid 'limit': integer {'above maximum' if above else 'below minimum'} value. "
                f"Expected a value {'<= 100' if above else '>= 1'}, but got {limit} instead.",
                param="limit",
                code="integer_above_max_value" if above else "integer_below_min_value",
            )
    order = values.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return ListQuery(
        limit=limit,
        order="asc" if order == "asc" else "desc",
        after=values.get("after") or None,
        before=values.get("before") or None,
    )


def _check_include(query: list[tuple[str, str]]) -> None:
    for key, value in query:
        if key in ("include[]", "include") and value != INCLUDE_FILE_SEARCH_CONTENT:
            raise InvalidRequestError(
                f"Invalid value: '{value}'. Supported values are: '{INCLUDE_FILE_SEARCH_CONTENT}'.",
                param="include",
                code="invalid_value",
            )


def _events(call: Call, body: BaseModel) -> Events:
    return Events(active=bool(getattr(body, "stream", None)))


def _run_answer(call: Call, events: Events, run: Obj) -> Obj | Stream:
    """The run as JSON or, for `stream: true`, the stream that follows it until it rests."""
    if not events.active:
        return run
    return Stream(call.backend.runs.stream(run["thread_id"], run["id"], events))


# --- handlers --------------------------------------------------------------------------------


def create_assistant(call: Call) -> Obj:
    return call.backend.create_assistant(call.body(schemas.CreateAssistant), call.owner)


def list_assistants(call: Call) -> Page:
    return call.backend.list_assistants(call.query(), call.owner)


def get_assistant(call: Call) -> Obj:
    return call.backend.get_assistant(call.params["assistant_id"], call.owner)


def modify_assistant(call: Call) -> Obj:
    body = call.body(schemas.ModifyAssistant)
    return call.backend.modify_assistant(call.params["assistant_id"], body, call.owner)


def delete_assistant(call: Call) -> Obj:
    return call.backend.delete_assistant(call.params["assistant_id"], call.owner)


def create_thread(call: Call) -> Obj:
    return call.backend.create_thread(call.body(schemas.CreateThread), call.owner)


def get_thread(call: Call) -> Obj:
    return call.backend.get_thread(call.params["thread_id"], call.owner)


def modify_thread(call: Call) -> Obj:
    body = call.body(schemas.ModifyThread)
    return call.backend.modify_thread(call.params["thread_id"], body, call.owner)


def delete_thread(call: Call) -> Obj:
    return call.backend.delete_thread(call.params["thread_id"], call.owner)


def create_message(call: Call) -> Obj:
    body = call.body(schemas.CreateMessage)
    return call.backend.create_message(call.params["thread_id"], body, call.owner)


def list_messages(call: Call) -> Page:
    run_id = call.query_value("run_id") or None
    return call.backend.list_messages(call.params["thread_id"], call.query(), run_id, call.owner)


def get_message(call: Call) -> Obj:
    p = call.params
    return call.backend.get_message(p["thread_id"], p["message_id"], call.owner)


def modify_message(call: Call) -> Obj:
    p = call.params
    body = call.body(schemas.ModifyMetadata)
    return call.backend.modify_message(p["thread_id"], p["message_id"], body, call.owner)


def delete_message(call: Call) -> Obj:
    p = call.params
    return call.backend.delete_message(p["thread_id"], p["message_id"], call.owner)


def create_run(call: Call) -> Obj | Stream:
    _check_include(call.request.query)
    body = call.body(schemas.CreateRun)
    events = _events(call, body)
    run = call.backend.create_run(call.params["thread_id"], body, events, call.owner)
    return _run_answer(call, events, run)


def create_thread_and_run(call: Call) -> Obj | Stream:
    body = call.body(schemas.CreateThreadAndRun)
    events = _events(call, body)
    run = call.backend.create_thread_and_run(body, events, call.owner)
    return _run_answer(call, events, run)


def list_runs(call: Call) -> Page:
    return call.backend.list_runs(call.params["thread_id"], call.query(), call.owner)


def get_run(call: Call) -> Obj:
    return call.backend.get_run(call.params["thread_id"], call.params["run_id"], call.owner)


def modify_run(call: Call) -> Obj:
    p = call.params
    body = call.body(schemas.ModifyMetadata)
    return call.backend.modify_run(p["thread_id"], p["run_id"], body, call.owner)


def cancel_run(call: Call) -> Obj:
    p = call.params
    return call.backend.cancel_run(p["thread_id"], p["run_id"], Events(), call.owner)


def submit_tool_outputs(call: Call) -> Obj | Stream:
    p = call.params
    body = call.body(schemas.SubmitToolOutputs)
    events = _events(call, body)
    run = call.backend.submit_tool_outputs(p["thread_id"], p["run_id"], body, events, call.owner)
    return _run_answer(call, events, run)


def list_steps(call: Call) -> Page:
    _check_include(call.request.query)
    p = call.params
    return call.backend.list_steps(p["thread_id"], p["run_id"], call.query(), call.owner)


def get_step(call: Call) -> Obj:
    _check_include(call.request.query)
    p = call.params
    return call.backend.get_step(p["thread_id"], p["run_id"], p["step_id"], call.owner)


# --- routing ---------------------------------------------------------------------------------

_T = r"(?P<thread_id>[^/]+)"
_R = r"(?P<run_id>[^/]+)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", r"/assistants", create_assistant),
    ("GET", r"/assistants", list_assistants),
    ("GET", r"/assistants/(?P<assistant_id>[^/]+)", get_assistant),
    ("POST", r"/assistants/(?P<assistant_id>[^/]+)", modify_assistant),
    ("DELETE", r"/assistants/(?P<assistant_id>[^/]+)", delete_assistant),
    ("POST", r"/threads", create_thread),
    ("POST", r"/threads/runs", create_thread_and_run),
    ("GET", rf"/threads/{_T}", get_thread),
    ("POST", rf"/threads/{_T}", modify_thread),
    ("DELETE", rf"/threads/{_T}", delete_thread),
    ("POST", rf"/threads/{_T}/messages", create_message),
    ("GET", rf"/threads/{_T}/messages", list_messages),
    ("GET", rf"/threads/{_T}/messages/(?P<message_id>[^/]+)", get_message),
    ("POST", rf"/threads/{_T}/messages/(?P<message_id>[^/]+)", modify_message),
    ("DELETE", rf"/threads/{_T}/messages/(?P<message_id>[^/]+)", delete_message),
    ("POST", rf"/threads/{_T}/runs", create_run),
    ("GET", rf"/threads/{_T}/runs", list_runs),
    ("GET", rf"/threads/{_T}/runs/{_R}", get_run),
    ("POST", rf"/threads/{_T}/runs/{_R}", modify_run),
    ("POST", rf"/threads/{_T}/runs/{_R}/cancel", cancel_run),
    ("POST", rf"/threads/{_T}/runs/{_R}/submit_tool_outputs", submit_tool_outputs),
    ("GET", rf"/threads/{_T}/runs/{_R}/steps", list_steps),
    ("GET", rf"/threads/{_T}/runs/{_R}/steps/(?P<step_id>[^/]+)", get_step),
]
_COMPILED = [(method, re.compile(pattern + r"/?"), handler) for method, pattern, handler in ROUTES]


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler for a method and path, or the 404/405 the API answers."""
    allowed = False
    for route_method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return handler, match.groupdict()
        allowed = True
    if allowed:
        raise MethodNotAllowedError(f"Invalid method for URL ({method} /v1{path})")
    raise RouteNotFound(f"Invalid URL ({method} /v1{path})")


def _check_ids(params: dict[str, str]) -> None:
    for name, value in params.items():
        prefix = ID_PREFIXES[name]
        if not value.startswith(prefix):
            raise InvalidRequestError(
                f"Invalid '{name}': '{value}'. Expected an ID that begins with '{prefix}'.",
                param=name,
            )


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


@dataclass(frozen=True)
class Options:
    """Per-emulator HTTP behaviour."""

    required_key: str | None = None
    isolate_keys: bool = False
    poll_after_ms: int | None = 0


def dispatch(backend: Backend, request: Request, options: Options, request_id: str) -> Response:
    """Handle one request completely; every failure becomes an OpenAI error response."""
    started = time.perf_counter()
    try:
        key = authenticate(request.headers, options.required_key)
        handler, params = resolve(request.method.upper(), request.path)
        _check_ids(params)
        call = Call(backend, request, params, key if options.isolate_keys else None)
        with backend.store.lock:  # render before another request can change the objects
            result = handler(call)
            if isinstance(result, Stream):
                return _sse(result, request_id)
            body = result.render() if isinstance(result, Page) else result
            status, payload = 200, pretty_json(body)
    except APIError as error:
        status, payload = error.status, pretty_json(error.body())
    except Exception as error:  # a bug in the emulator: say so, as the real service would
        log.error("request %s %s failed: %r", request.method, request.path, error, exc_info=error)
        failure = APIError(SERVER_ERROR_MESSAGE, code="server_error")
        failure.type = "server_error"
        status, payload = 500, pretty_json(failure.body())
    headers = {
        "content-type": "application/json",
        "x-request-id": request_id,
        "openai-version": "2020-10-01",
        "openai-processing-ms": str(int((time.perf_counter() - started) * 1000)),
    }
    if options.poll_after_ms is not None:
        headers["openai-poll-after-ms"] = str(options.poll_after_ms)
    return Response(status, headers, payload)


def _sse(stream: Stream, request_id: str) -> Response:
    headers = {
        "content-type": "text/event-stream; charset=utf-8",
        "x-request-id": request_id,
        "openai-version": "2020-10-01",
    }
    return Response(200, headers, events=_sse_frames(stream.frames))


def _sse_frames(frames: Iterator[tuple[str, str]]) -> Iterator[bytes]:
    """One `event:`/`data:` frame per event, then `done`; a failure mid-stream is an `error`.

    The `error` data is wrapped as `{"error": {...}}`: the one shape every SDK line raises
    `APIError` for (the spec's bare Error object is silently dropped by the stream helpers).
    """
    try:
        for name, data in frames:
            yield f"event: {name}\ndata: {data}\n\n".encode()
    except Exception as error:
        if not isinstance(error, APIError):
            log.error("stream failed: %r", error, exc_info=error)
            error = APIError(SERVER_ERROR_MESSAGE, code="server_error")
            error.type = "server_error"
        body = json.dumps(error.body(), separators=(",", ":"))
        yield f"event: error\ndata: {body}\n\n".encode()
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    yield b"event: done\ndata: [DONE]\n\n"
