"""In-process transports: hand a client the emulator directly, with nothing patched.

`httpx.Client(transport=emu.transport())` and `httpx2.Client(transport=emu.transport2())`
answer from the emulator whether or not it is started, for sync and async clients alike (one
transport object serves both, like `httpx.MockTransport`). Requests go through the same
pipeline as intercepted ones: faults, recording, streaming. The client's base URL must be one
of the emulator's base URLs (the SDK's default is).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import httpx2

from ..http.pipeline import RequestHandler
from .common import answer, httpx2_response, httpx_response


class HttpxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport answering every request from one emulator (sync and async)."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.handler.latency:
            time.sleep(self.handler.latency)
        return httpx_response(
            answer(self.handler, request, str(request.url), request.read(), httpx)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.handler.latency:
            await asyncio.sleep(self.handler.latency)
        return httpx_response(
            answer(self.handler, request, str(request.url), await request.aread(), httpx)
        )


class Httpx2Transport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport answering every request from one emulator (sync and async)."""

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.handler.latency:
            time.sleep(self.handler.latency)
        return httpx2_response(
            answer(self.handler, request, str(request.url), request.read(), httpx2)
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.handler.latency:
            await asyncio.sleep(self.handler.latency)
        return httpx2_response(
            answer(self.handler, request, str(request.url), await request.aread(), httpx2)
        )


__all__ = ["Httpx2Transport", "HttpxTransport"]
