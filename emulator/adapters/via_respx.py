"""httpx (what `openai` < 3 sends with, and 3.x given an httpx client), intercepted by respx.

One respx router for the whole process, joined to respx's httpx mocker by the registry with the
first emulator and left with the last. respx patches httpx at the client's transport lookup
(`using="httpx"`), not httpcore. The router skips respx's route matching, side-effect
inspection and call recording (a third of the interception's cost, and memory that grew with
every request): each request goes to the emulator that owns its URL, and any other passes
through untouched, as respx passes requests through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import respx
from respx.mocks import HTTPXMocker
from respx.models import PassThrough

from ..http.pipeline import RequestHandler
from .common import answer, httpx_response


class _EmulatorRouter(respx.MockRouter):
    """A respx router with no routes: the emulator owning a URL answers, else it passes."""

    def __init__(self, owner: Callable[[str], RequestHandler | None]) -> None:
        super().__init__(assert_all_called=False, assert_all_mocked=False, using="httpx")
        self._owner = owner

    def _handler_for(self, request: httpx.Request) -> tuple[RequestHandler, str]:
        """The emulator that owns the request's URL, and the URL."""
        url = str(request.url)
        handler = self._owner(url)
        if handler is None:  # how respx sends a request on to the real transport; `origin`,
            # the route that let it pass, is only recorded, and this router has no routes
            raise PassThrough("not an emulator URL", request=request, origin=None)  # type: ignore[arg-type]
        return handler, url

    def handler(self, request: httpx.Request) -> httpx.Response:
        handler, url = self._handler_for(request)
        if handler.latency:
            time.sleep(handler.latency)
        return httpx_response(answer(handler, request, url, request.read(), httpx))

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        handler, url = self._handler_for(request)
        if handler.latency:
            await asyncio.sleep(handler.latency)
        return httpx_response(answer(handler, request, url, await request.aread(), httpx))


class HttpxInterceptor:
    """Answers httpx requests for owned URLs through a respx router."""

    def __init__(self, owner: Callable[[str], RequestHandler | None]) -> None:
        self.router = _EmulatorRouter(owner)

    # Not `router.start()`/`stop()`: those also snapshot the routes to roll them back on stop,
    # two `unittest.mock` objects costing about 0.1 ms of every test's fixture. This router has
    # no routes to roll back, so it only joins respx's httpx mocker, which patches httpx for
    # its first router and restores it after its last (users' routers included).
    def start(self) -> None:
        HTTPXMocker.register(self.router)
        HTTPXMocker.start()

    def stop(self) -> None:
        HTTPXMocker.unregister(self.router)
        HTTPXMocker.stop()
