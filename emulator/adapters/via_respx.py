"""httpx (what `openai` < 3 sends with, and 3.x given an httpx client), intercepted by respx.

One respx router for the whole process, started by the registry with the first emulator and
stopped with the last: its one route answers from the emulator that owns the URL and passes
every other request through untouched. respx patches httpx at the client's transport lookup
(`using="httpx"`), not httpcore, which keeps the emulator within 1.5x of the SDK's own cost
(see `benchmarks/run.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import respx
from respx.mocks import HTTPXMocker

from ..http.pipeline import RequestHandler
from .common import Frames, answer


class _HttpxFrames(Frames, httpx.SyncByteStream, httpx.AsyncByteStream):
    pass


class HttpxInterceptor:
    """Answers httpx requests for owned URLs through a respx router."""

    def __init__(self, owner: Callable[[str], RequestHandler | None]) -> None:
        self._owner = owner
        self.router = respx.MockRouter(
            assert_all_called=False, assert_all_mocked=False, using="httpx"
        )
        self.router.route().mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response | httpx.Request:
        handler = self._owner(str(request.url))
        if handler is None:
            return request  # respx passes a request returned by a side effect through
        if handler.latency:
            time.sleep(handler.latency)
        response = answer(handler, request, request.read(), httpx)
        if response.events is not None:
            stream = _HttpxFrames(response.events)
            return httpx.Response(response.status, headers=response.headers, stream=stream)
        return httpx.Response(response.status, headers=response.headers, content=response.body)

    # Not `router.start()`/`stop()`: those also snapshot the routes to roll them back on stop,
    # two `unittest.mock` objects costing about 0.1 ms of every test's fixture. This router's
    # one route never changes, so it only joins respx's httpx mocker, which patches httpx for
    # its first router and restores it after its last (users' routers included).
    def start(self) -> None:
        HTTPXMocker.register(self.router)
        HTTPXMocker.start()

    def stop(self) -> None:
        HTTPXMocker.unregister(self.router)
        self.router.reset()  # forget the calls respx recorded
        HTTPXMocker.stop()
