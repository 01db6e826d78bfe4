"""Client-side adapters: answer httpx (through respx) and httpx2 requests from an emulator.

`openai` < 3 sends through httpx, which respx patches; `openai` >= 3 sends through httpx2,
which respx does not know, so its default transports are patched here the way respx patches
httpcore. Requests for hosts the emulator does not own pass through untouched.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import httpx
import httpx2
import respx

from .faults import ConnectionDropped, RequestTimedOut

if TYPE_CHECKING:
    from .core import Emulator
    from .routes import Response


class HttpxInterceptor:
    """A respx router with one route per owned base URL and a pass-through for the rest."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=False)
        for base_url in emulator.base_urls:
            self.router.route(url__startswith=base_url).mock(side_effect=self._answer)
        self.router.route().pass_through()

    def _answer(self, request: httpx.Request) -> httpx.Response:
        latency = self._emulator.faults.latency
        if latency:
            time.sleep(latency)
        answer = _call(self._emulator, request, request.read(), httpx)
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content)

    def start(self) -> None:
        self.router.start()

    def stop(self) -> None:
        self.router.stop()


class Httpx2Interceptor:
    """Patches `httpx2.HTTPTransport` / `AsyncHTTPTransport` so owned URLs never hit the network."""

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
    return httpx2.Response(answer.status, headers=answer.headers, content=answer.content)


def _call(emulator: Emulator, request: Any, body: bytes, library: Any) -> Response:
    """Hand the request to the emulator; injected network faults raise the library's errors."""
    try:
        return emulator.handle(request.method, str(request.url), dict(request.headers), body)
    except ConnectionDropped:
        raise library.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from None
    except RequestTimedOut:
        raise library.ReadTimeout("The read operation timed out", request=request) from None
