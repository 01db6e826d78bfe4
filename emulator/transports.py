"""Client-side adapters: answer httpx and httpx2 requests from an emulator.

`openai` < 3 sends through httpx, `openai` >= 3 through httpx2. Both libraries' default
transports (`HTTPTransport`, `AsyncHTTPTransport`) are patched the same way, below every client,
so default SDK clients need no setup. Requests for URLs the emulator does not own go to the
original transport untouched. (Patching the transport directly, rather than httpcore through
respx, keeps the emulator within 1.5x of the SDK's own cost: see `benchmarks/run.py`.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import httpx2

from .faults import ConnectionDropped, RequestTimedOut

if TYPE_CHECKING:
    from .core import Emulator
    from .routes import Response


class _TransportPatch:
    """Patches a library's `HTTPTransport` classes: owned URLs never reach the network."""

    library: Any  # the httpx or httpx2 module

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._saved: tuple[Any, Any] | None = None

    def _respond(self, answer: Response) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        if self._saved is not None:
            return
        emulator, library, respond = self._emulator, self.library, self._respond
        original_sync = library.HTTPTransport.handle_request
        original_async = library.AsyncHTTPTransport.handle_async_request

        def handle_request(transport: Any, request: Any) -> Any:
            if not emulator.owns(str(request.url)):
                return original_sync(transport, request)
            if emulator.faults.latency:
                time.sleep(emulator.faults.latency)
            return respond(_call(emulator, request, request.read(), library))

        async def handle_async_request(transport: Any, request: Any) -> Any:
            if not emulator.owns(str(request.url)):
                return await original_async(transport, request)
            if emulator.faults.latency:
                await asyncio.sleep(emulator.faults.latency)
            body = await request.aread()
            return respond(_call(emulator, request, body, library))

        self._saved = (original_sync, original_async)
        library.HTTPTransport.handle_request = handle_request
        library.AsyncHTTPTransport.handle_async_request = handle_async_request

    def stop(self) -> None:
        if self._saved is None:
            return
        sync, asynchronous = self._saved
        self.library.HTTPTransport.handle_request = sync
        self.library.AsyncHTTPTransport.handle_async_request = asynchronous
        self._saved = None


class HttpxInterceptor(_TransportPatch):
    """httpx, what `openai` < 3 sends with (and what 3.x sends with given an httpx client)."""

    library = httpx

    def _respond(self, answer: Response) -> httpx.Response:
        if answer.events is not None:
            stream = _HttpxFrames(answer.events)
            return httpx.Response(answer.status, headers=answer.headers, stream=stream)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content)


class Httpx2Interceptor(_TransportPatch):
    """httpx2, what `openai` >= 3 sends with."""

    library = httpx2

    def _respond(self, answer: Response) -> httpx2.Response:
        return _httpx2_response(answer)


def _httpx2_response(answer: Response) -> httpx2.Response:
    if answer.events is not None:
        stream = _Httpx2Frames(answer.events)
        return httpx2.Response(answer.status, headers=answer.headers, stream=stream)
    return httpx2.Response(answer.status, headers=answer.headers, content=answer.content)


class _Frames:
    """An SSE body read lazily, for sync and async clients alike: each read advances the run."""

    def __init__(self, frames: Iterable[bytes]) -> None:
        self._frames = iter(frames)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        self.close()


class _HttpxFrames(_Frames, httpx.SyncByteStream, httpx.AsyncByteStream):
    pass


class _Httpx2Frames(_Frames, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    pass


def _call(emulator: Emulator, request: Any, body: bytes, library: Any) -> Response:
    """Hand the request to the emulator; injected network faults raise the library's errors."""
    try:
        headers = dict(request.headers.items())  # `dict(headers)` rescans them for every name
        return emulator.handle(request.method, str(request.url), headers, body)
    except ConnectionDropped:
        raise library.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from None
    except RequestTimedOut:
        raise library.ReadTimeout("The read operation timed out", request=request) from None
