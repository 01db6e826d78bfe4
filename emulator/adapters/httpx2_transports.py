"""httpx2, what `openai` >= 3 sends with: its default transports (`HTTPTransport`,
`AsyncHTTPTransport`) are patched, so default clients need no setup.

Patched once for the whole process, on the registry's first start, and restored on its last
stop; the patched methods answer from the emulator that owns the URL and send every other
request through the original transport untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx2

from ..http.pipeline import RequestHandler
from .common import answer, httpx2_response


class Httpx2Interceptor:
    """Answers httpx2 requests for owned URLs by patching its default transports."""

    def __init__(self, owner: Callable[[str], RequestHandler | None]) -> None:
        self._owner = owner
        self._saved: tuple[Any, Any] | None = None

    def start(self) -> None:
        if self._saved is not None:
            return
        owner = self._owner
        original_sync = httpx2.HTTPTransport.handle_request
        original_async = httpx2.AsyncHTTPTransport.handle_async_request

        def handle_request(
            transport: httpx2.HTTPTransport, request: httpx2.Request
        ) -> httpx2.Response:
            url = str(request.url)
            handler = owner(url)
            if handler is None:
                return original_sync(transport, request)
            if handler.latency:
                time.sleep(handler.latency)
            return httpx2_response(answer(handler, request, url, request.read(), httpx2))

        async def handle_async_request(
            transport: httpx2.AsyncHTTPTransport, request: httpx2.Request
        ) -> httpx2.Response:
            url = str(request.url)
            handler = owner(url)
            if handler is None:
                return await original_async(transport, request)
            if handler.latency:
                await asyncio.sleep(handler.latency)
            body = await request.aread()
            return httpx2_response(answer(handler, request, url, body, httpx2))

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
