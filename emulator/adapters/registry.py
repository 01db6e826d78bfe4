"""Who owns which base URL: the one interception registry of the process, as respx's mocker.

`Emulator.start()` registers its pipeline and `stop()` unregisters it. The first registration
starts the interceptors (the respx router for httpx, the httpx2 transport patch) and the last
one stops them, whatever the order emulators start and stop in; in between, each intercepted
request is answered by the started emulator whose base URL it is under, and a stopped emulator
answers nothing. Two started emulators cannot share a base URL: run them on different ones
(`Emulator(base_urls=["https://b.test/v1"])`, with the client's `base_url` to match).
"""

from __future__ import annotations

import threading

from ..http.pipeline import RequestHandler
from .httpx2_transports import Httpx2Interceptor
from .via_respx import HttpxInterceptor

__all__ = ["REGISTRY", "BaseURLInUseError", "Registry"]


class BaseURLInUseError(RuntimeError):
    """A base URL is already intercepted by another started emulator."""


def _overlap(a: str, b: str) -> bool:
    """Whether one base URL is the other or under it (then requests could go to both)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


class Registry:
    """The started emulators' request handlers, and the interceptors they share."""

    def __init__(self) -> None:
        self._handlers: tuple[RequestHandler, ...] = ()
        self._lock = threading.Lock()
        self._interceptors = (HttpxInterceptor(self.owner), Httpx2Interceptor(self.owner))

    @property
    def handlers(self) -> tuple[RequestHandler, ...]:
        return self._handlers

    def register(self, handler: RequestHandler) -> None:
        """Start answering for `handler`'s base URLs (BaseURLInUseError if one is taken)."""
        with self._lock:
            if handler in self._handlers:
                return
            for other in self._handlers:
                for base in handler.base_urls:
                    for taken in other.base_urls:
                        if _overlap(base, taken):
                            raise BaseURLInUseError(
                                f"{base} is already intercepted by another started emulator "
                                f"(on {taken}); stop that one first, or give this one other "
                                "base_urls (e.g. Emulator(base_urls=['https://second.test/v1']))"
                                " and point its client there"
                            )
            if not self._handlers:
                for interceptor in self._interceptors:
                    interceptor.start()
            self._handlers = (*self._handlers, handler)

    def unregister(self, handler: RequestHandler) -> None:
        """Stop answering for `handler`; the last one out restores the HTTP libraries."""
        with self._lock:
            if handler not in self._handlers:
                return
            self._handlers = tuple(h for h in self._handlers if h is not handler)
            if not self._handlers:
                for interceptor in reversed(self._interceptors):
                    interceptor.stop()

    def owner(self, url: str) -> RequestHandler | None:
        """The started emulator whose base URL `url` is under, if any."""
        for handler in self._handlers:
            if handler.base_for(url) is not None:
                return handler
        return None


REGISTRY = Registry()
