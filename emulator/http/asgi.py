"""ASGI adapter: serve an `Emulator` to any ASGI server (uvicorn) or `httpx.ASGITransport`.

Thin on purpose: it turns an ASGI request into a pipeline `Request` and the `Response` back into
ASGI messages. The API lives under `prefix` (default `/v1`), so a client's base URL is
`http://HOST:PORT/v1`; other ASGI apps can be mounted beside it (`mounts`, by path prefix). A
path under neither is the API's 404, rendered by the pipeline. Server-sent events go out as one
body chunk per frame.

Bodies are read up to `max_body_bytes` (32 MB, the API's own limit): a bigger one is answered
413 as soon as it is known (from `content-length`, else while reading) and the connection is
closed; nothing past the limit is kept. Injected latency watches the connection: a request whose
client has gone by then is not processed. Log lines escape control characters, so a path cannot
forge lines.

Injected network faults: a dropped connection closes the socket without a response, and a
timeout sends nothing until the client gives up. ASGI has no message that closes a connection,
so both need the server's transport, which uvicorn's `receive` carries; under any other server
(or an in-process `ASGITransport`) the app raises `ConnectionDropped` / `RequestTimedOut`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread

from ..wire.errors import APIError, NotFoundError
from ..wire.render import pretty_json
from .faults import ConnectionDropped, RequestTimedOut
from .pipeline import Request, RequestHandler, Response
from .routes.base import MAX_BODY_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("emulator.server")


class _Transport(Protocol):
    def close(self) -> None: ...


class AsgiApp:
    """The emulator's HTTP API as an ASGI 3 application (`Emulator.asgi_app()` builds one)."""

    def __init__(
        self,
        handler: RequestHandler,
        *,
        prefix: str = "/v1",
        mounts: Mapping[str, ASGIApp] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.handler = handler
        self.prefix = prefix.rstrip("/")
        self.mounts = dict(mounts or {})  # path prefix -> app (e.g. a control API)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            mounted = self._mounted(_path(scope))
            if mounted is not None:
                prefix, app = mounted
                await app(
                    {**scope, "root_path": scope.get("root_path", "") + prefix}, receive, send
                )
            else:
                await self._http(scope, receive, send)
        else:
            raise ValueError(f"the emulator serves HTTP only, not {scope['type']!r}")

    def _root(self) -> Response:
        """`GET /`: where things are."""
        body: dict[str, str] = {"object": "assistants_emulator", "api": f"{self.prefix}/"}
        for prefix in self.mounts:
            body.setdefault("dashboard", f"{prefix.rstrip('/')}/")
        body["message"] = f"OpenAI Assistants API emulator: point an SDK at {self.prefix}"
        headers = {"content-type": "application/json"}
        return Response(200, headers, pretty_json(body))

    def _mounted(self, path: str) -> tuple[str, ASGIApp] | None:
        for prefix, app in self.mounts.items():
            if _under(path, prefix.rstrip("/")):
                return prefix.rstrip("/"), app
        return None

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        handler = self.handler
        method: str = scope["method"]
        full_path = _path(scope, raw=True)
        query_string = scope.get("query_string", b"").decode("latin-1")
        target = full_path + (f"?{query_string}" if query_string else "")
        headers = _headers(scope)
        try:
            body = await _read_body(receive, headers, self.max_body_bytes)
        except BodyTooLarge as error:
            await _send_response(_closing(handler.render_error(error)), send)
            _log(scope, method, target, "413 (body too large)", started)
            return
        if body is None:
            return  # the client left before sending its whole request
        if full_path == "/" and method == "GET":  # a browser or curl pointed at the server
            await _send_response(self._root(), send)
            _log(scope, method, target, "200", started)
            return
        if not _under(full_path, self.prefix):
            log.debug(
                "%s %s answered 404: not under the API prefix %s", method, target, self.prefix
            )
            answer = handler.render_error(NotFoundError(f"Invalid URL ({method} {full_path})"))
            await _send_response(answer, send)
            _log(scope, method, target, str(answer.status), started)
            return
        if handler.latency and await _client_left_during(handler.latency, receive):
            _log(scope, method, target, "client left during latency: not processed", started)
            return
        request = Request(
            method.upper(),
            full_path[len(self.prefix) :] or "/",
            parse_qsl(query_string, keep_blank_values=True),
            headers,
            body,
            _url(scope, headers, target),
        )
        try:  # responders may take their time: off the event loop
            answer = await anyio.to_thread.run_sync(handler.handle, request)
        except ConnectionDropped:
            _log(scope, method, target, "connection dropped (injected fault)", started)
            await _drop(receive, wait=False)
            return
        except RequestTimedOut:
            _log(scope, method, target, "no response (injected timeout)", started)
            await _drop(receive, wait=True)
            return
        await _send_response(answer, send)
        _log(scope, method, target, str(answer.status), started)


def function_app(
    answer: Callable[[Request], Response],
    render_error: Callable[[APIError], Response],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ASGIApp:
    """An ASGI app answering each HTTP request with `answer` (off the event loop), for apps
    mounted beside the API such as the control API; its paths are below the mount point.
    A body over `max_body_bytes` gets `render_error`'s 413."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("root_path", "") + _path(scope)
        target += f"?{query_string}" if query_string else ""
        headers = _headers(scope)
        try:
            body = await _read_body(receive, headers, max_body_bytes)
        except BodyTooLarge as error:
            await _send_response(_closing(render_error(error)), send)
            _log(scope, method, target, "413 (body too large)", started)
            return
        if body is None:
            return
        request = Request(
            method.upper(),
            _path(scope),
            parse_qsl(query_string, keep_blank_values=True),
            headers,
            body,
            _url(scope, headers, target),
        )
        response = await anyio.to_thread.run_sync(answer, request)
        await _send_response(response, send)
        _log(scope, method, target, str(response.status), started)

    return app


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: acknowledge the server's lifespan events."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _path(scope: Scope, *, raw: bool = False) -> str:
    """The request path below the mount point (`root_path`), however the server reports it.

    `raw` keeps percent-escapes as sent, so an encoded slash (`%2F`) stays inside its path
    segment, as httpx and httpx2 hand the other adapters their URLs.
    """
    path: str = scope["path"]
    if raw and scope.get("raw_path"):
        path = bytes(scope["raw_path"]).decode("latin-1").partition("?")[0]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _url(scope: Scope, headers: dict[str, str], target: str) -> str:
    host = headers.get("host")
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{target}"


class BodyTooLarge(APIError):
    """413: the body is over the limit (said by `content-length`, or found while reading)."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Request body too large: the limit is {limit} bytes.", code="request_too_large"
        )


async def _read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes | None:
    """The whole request body, or None when the client disconnects first; raises
    `BodyTooLarge` before reading a body announced bigger than `limit`, or once more than
    `limit` bytes arrived (the rest is never read)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _closing(response: Response) -> Response:
    """The response, with the connection closed after it (the unread body goes with it)."""
    response.headers["connection"] = "close"
    return response


async def _client_left_during(seconds: float, receive: Receive) -> bool:
    """Sleep `seconds` (injected latency) while watching the connection: True when the client
    disconnected meanwhile. The body is read, so the next message is the disconnect."""
    left = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal left
            while (await receive())["type"] != "http.disconnect":
                pass
            left = True
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await anyio.sleep(seconds)
        group.cancel_scope.cancel()
    return left


async def _send_response(answer: Response, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
    if answer.events is None:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    if answer.events is None:
        await send({"type": "http.response.body", "body": answer.body})
        return
    # A stream makes its frames as it is read (driving the run), so each is made off the loop.
    frames = iter(answer.events)
    try:
        while (frame := await anyio.to_thread.run_sync(next, frames, None)) is not None:
            await send({"type": "http.response.body", "body": frame, "more_body": True})
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)
    await send({"type": "http.response.body", "body": b""})


async def _drop(receive: Receive, *, wait: bool) -> None:
    """Leave without answering: close the connection now, or once the client gives up."""
    transport: _Transport | None = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RequestTimedOut("no response") if wait else ConnectionDropped("dropped")
    if not wait:
        transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass  # nothing more is expected after the body; wait for the connection to go


def _log(scope: Scope, method: str, target: str, outcome: str, started: float) -> None:
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "-"
    elapsed = (time.perf_counter() - started) * 1000
    log.info('%s "%s %s" %s %.0fms', who, escape(method), escape(target), outcome, elapsed)


_CONTROL = {n: f"\\x{n:02x}" for n in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029", ord("\\"): "\\\\"})


def escape(text: str) -> str:
    """`text` for one log line: control characters (CR, LF, ESC, ...), line separators and the
    backslash itself written as escapes, so a decoded path cannot forge log lines."""
    return text.translate(_CONTROL)


__all__ = ["AsgiApp", "BodyTooLarge", "escape", "function_app"]
