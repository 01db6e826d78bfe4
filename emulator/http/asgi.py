"""ASGI adapter: serve an `Emulator` to any ASGI server (uvicorn) or `httpx.ASGITransport`.

Thin on purpose: it turns an ASGI request into a pipeline `Request` and the `Response` back into
ASGI messages. The API lives under `prefix` (default `/v1`), so a client's base URL is
`http://HOST:PORT/v1`; other ASGI apps can be mounted beside it (`mounts`, by path prefix). A
path under neither is the API's 404, rendered by the pipeline. Server-sent events go out as one
body chunk per frame.

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

from ..wire.errors import NotFoundError
from .faults import ConnectionDropped, RequestTimedOut
from .pipeline import Request, RequestHandler, Response

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
    ) -> None:
        self.handler = handler
        self.prefix = prefix.rstrip("/")
        self.mounts = dict(mounts or {})  # path prefix -> app (e.g. a control API)

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
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its whole request
        if not _under(full_path, self.prefix):
            answer = handler.render_error(NotFoundError(f"Invalid URL ({method} {full_path})"))
            await _send_response(answer, send)
            _log(scope, method, target, str(answer.status), started)
            return
        if handler.latency:
            await anyio.sleep(handler.latency)
        headers = _headers(scope)
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


def function_app(answer: Callable[[Request], Response]) -> ASGIApp:
    """An ASGI app answering each HTTP request with `answer` (off the event loop), for apps
    mounted beside the API such as the control API; its paths are below the mount point."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        target = scope.get("root_path", "") + _path(scope)
        target += f"?{query_string}" if query_string else ""
        body = await _read_body(receive)
        if body is None:
            return
        headers = _headers(scope)
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


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client disconnects first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


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
    log.info('%s "%s %s" %s %.0fms', who, method, target, outcome, elapsed)


__all__ = ["AsgiApp", "function_app"]
