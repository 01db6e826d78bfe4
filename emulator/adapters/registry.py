"""Client-side adapters: answer httpx and httpx2 requests from an emulator.

`openai` < 3 sends through httpx, which respx mocks: a respx router with one route per owned
base URL answers from the emulator and a catch-all route passes everything else through. respx
patches httpx at the client's transport lookup (`using="httpx"`), not httpcore, which keeps the
emulator within 1.5x of the SDK's own cost (see `benchmarks/run.py`). `openai` >= 3 sends
through httpx2, which respx does not know: its default transports (`HTTPTransport`,
`AsyncHTTPTransport`) are patched here the same way, so default clients need no setup.
Requests for URLs the emulator does not own go to the original transport untouched.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import respx

from ..http.faults import ConnectionDropped, RequestTimedOut

if TYPE_CHECKING:
    from ..emulator import Emulator
    from ..http.pipeline import Response


class HttpxInterceptor:
    """httpx (what `openai` < 3 sends with, and 3.x given an httpx client), through respx."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.router = respx.MockRouter(
            assert_all_called=False, assert_all_mocked=False, using="httpx"
        )
        bases = "|".join(re.escape(base) for base in emulator.base_urls)
        self.router.route(url__regex=rf"^({bases})([/?]|$)").mock(side_effect=self._answer)
        self.router.route().pass_through()

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self._emulator.faults.latency:
            time.sleep(self._emulator.faults.latency)
        answer = _call(self._emulator, request, request.read(), httpx)
        if answer.events is not None:
            stream = _HttpxFrames(answer.events)
            return httpx.Response(answer.status, headers=answer.headers, stream=stream)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content)

    def start(self) -> None:
        self.router.start()

    def stop(self) -> None:
        self.router.stop()


class Httpx2Interceptor:
    """httpx2, what `openai` >= 3 sends with: its default transports are patched."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._saved: tuple[Any, Any] | None = None

    def start(self) -> None:
        if self._saved is not None:
            return
        emulator = self._emulator
        original_sync = httpx2.HTTPTransport.handle_request
        original_async = httpx2.AsyncHTTPTransport.handle_async_request

        def handle_request(
            transport: httpx2.HTTPTransport, request: httpx2.Request
        ) -> httpx2.Response:
            if not emulator.owns(str(request.url)):
                return original_sync(transport, request)
            if emulator.faults.latency:
                time.sleep(emulator.faults.latency)
            return _httpx2_response(_call(emulator, request, request.read(), httpx2))

        async def handle_async_request(
            transport: httpx2.AsyncHTTPTransport, request: httpx2.Request
        ) -> httpx2.Response:
            if not emulator.owns(str(request.url)):
                return await original_async(transport, request)
            if emulator.faults.latency:
                await asyncio.sleep(emulator.faults.latency)
            body = await request.aread()
            return _httpx2_response(_call(emulator, request, body, httpx2))

        self._saved = (original_sync, original_async)
        httpx2.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign,assignment]
        httpx2.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign,assignment]

    def stop(self) -> None:
        if self._saved is None:
            return
        sync, asynchronous = self._saved
        httpx2.HTTPTransport.handle_request = sync  # type: ignore[method-assign]
        httpx2.AsyncHTTPTransport.handle_async_request = asynchronous  # type: ignore[method-assign]
        self._saved = None


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
