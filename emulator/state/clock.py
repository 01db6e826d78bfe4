"""Controllable clocks: every timestamp the emulator writes comes from one of these."""

from __future__ import annotations

import threading
import time
from typing import Protocol

DEFAULT_START = 1_714_000_000  # 2024-04-24T23:06:40Z, shortly after Assistants v2 shipped


class Clock(Protocol):
    """Unix time in whole seconds, as the API reports it, moved by tests at will."""

    def now(self) -> int: ...

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int: ...

    def move_to(self, timestamp: int) -> None: ...


class FrozenClock:
    """A deterministic clock that starts at a fixed instant and moves only when told.

    Like time-machine's travel with `tick=False`: `advance` and `move_to` are the only ways
    time passes, so tests of expiry never sleep.
    """

    def __init__(self, start: int = DEFAULT_START) -> None:
        self._now = int(start)
        self._lock = threading.Lock()

    def now(self) -> int:
        return self._now

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int:
        """Move forward by the given amount; returns the new time."""
        delta = seconds + 60 * minutes + 3600 * hours
        if delta < 0:
            raise ValueError("the clock only moves forward; use move_to() to go back")
        with self._lock:
            self._now += int(delta)
            return self._now

    def move_to(self, timestamp: int) -> None:
        """Jump to an absolute Unix timestamp (forwards or backwards)."""
        with self._lock:
            self._now = int(timestamp)

    def __repr__(self) -> str:
        return f"FrozenClock(now={self._now})"


class RealClock:
    """Wall-clock time, for the local server; `advance` adds an offset so expiry stays testable."""

    def __init__(self) -> None:
        self._offset = 0

    def now(self) -> int:
        return int(time.time()) + self._offset

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int:
        self._offset += int(seconds + 60 * minutes + 3600 * hours)
        return self.now()

    def move_to(self, timestamp: int) -> None:
        self._offset = int(timestamp) - int(time.time())

    def __repr__(self) -> str:
        return f"RealClock(offset={self._offset})"
