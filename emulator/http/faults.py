"""Fault injection: chosen requests fail as a misbehaving service would, touching no state.

The pipeline checks faults before a request reaches the backend, so a failed create creates
nothing. A status fault answers with its `APIError` (429 `RateLimitError`, 5xx `ServerError`);
`disconnect` and `timeout` raise `ConnectionDropped` / `RequestTimedOut`, which each adapter
turns into its HTTP library's own exception, or, served over HTTP, into a connection closed
without a response / a response that never comes (so the SDK sees `APIConnectionError` /
`APITimeoutError` and retries as it would).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Literal

from ..wire.errors import SERVER_ERROR_MESSAGE, APIError, RateLimitError, ServerError

FaultKind = Literal["status", "disconnect", "timeout"]

_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: SERVER_ERROR_MESSAGE,
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


class ConnectionDropped(Exception):
    """The connection is closed before any response is sent."""


class RequestTimedOut(Exception):
    """No response arrives in time."""


@dataclass
class Fault:
    """Fail the next `times` requests matching `method` and the `path` regex (None: any)."""

    kind: FaultKind = "status"
    status: int = 500
    times: int = 1
    method: str | None = None
    path: str | None = None
    retry_after: float | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None

    def error(self) -> APIError:
        """What a status fault answers: the wire error, with `retry-after` when asked for."""
        message = self.message or _MESSAGES.get(self.status, "Injected fault.")
        headers = {}
        if self.retry_after is not None:
            headers["retry-after"] = f"{self.retry_after:g}"
            headers["retry-after-ms"] = f"{self.retry_after * 1000:g}"  # 0.0001 s stays > 0
        if self.status == 429:
            return RateLimitError(message, code="rate_limit_exceeded", headers=headers)
        return ServerError(message, status=self.status, headers=headers)

    def strike(self, path: str) -> None:
        """Fail the request: raise what this fault does to it."""
        if self.kind == "disconnect":
            raise ConnectionDropped(path)
        if self.kind == "timeout":
            raise RequestTimedOut(path)
        raise self.error()


class FaultPlan:
    """Queued faults, used up in the order they were added; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("a fault must apply to at least one request")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> int:
        """How many more requests the queued faults will fail."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that applies to this request, if any (using up one of its `times`)."""
        if not self._faults:  # the common case, without the lock
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None
