"""Controllable clocks: every timestamp the emulator writes comes from one of these.

Time is kept with its fractions (1,202 half-second advances move the clock 601 seconds);
`now()` shows whole seconds, as the API reports them. A clock tells its observers the latest
second it has shown each time it is moved, so whatever was due by then happens at its deadline
even if the clock is moved back before anything is read (a run expires at `expires_at`, and
moving the clock back never revives it).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Protocol

DEFAULT_START = 1_714_000_000  # 2024-04-24T23:06:40Z, shortly after Assistants v2 shipped

Observer = Callable[[int], None]  # called with the latest whole second the clock has shown


class Clock(Protocol):
    """Unix time in whole seconds, as the API reports it, moved by tests at will.

    A clock may also offer `subscribe(observer)` (both built-in clocks do): the emulator then
    applies what became due when the clock moves, not only when something is next read.
    """

    def now(self) -> int: ...

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int: ...

    def move_to(self, timestamp: float) -> None: ...


class _Observed:
    """Observers held weakly (an emulator that is gone stops being told)."""

    def __init__(self) -> None:
        self._observers: list[weakref.WeakMethod[Observer] | Callable[[], Observer]] = []

    def subscribe(self, observer: Observer) -> None:
        """Call `observer(latest_second)` after every move of this clock."""
        if hasattr(observer, "__self__"):
            self._observers.append(weakref.WeakMethod(observer))
        else:
            self._observers.append(lambda: observer)

    def _moved(self, before: float, after: float) -> None:
        latest = math.floor(max(before, after))
        alive = []
        for ref in self._observers:
            observer = ref()
            if observer is not None:
                alive.append(ref)
                observer(latest)
        self._observers = alive


class FrozenClock(_Observed):
    """A deterministic clock that starts at a fixed instant and moves only when told.

    Like time-machine's travel with `tick=False`: `advance` and `move_to` are the only ways
    time passes, so tests of expiry never sleep.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        super().__init__()
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> int:
        return math.floor(self._now)

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int:
        """Move forward by the given amount (fractions are kept); returns the new second."""
        delta = seconds + 60 * minutes + 3600 * hours
        if delta < 0:
            raise ValueError("the clock only moves forward; use move_to() to go back")
        with self._lock:
            before = self._now
            self._now += delta
            after = self._now
        self._moved(before, after)
        return math.floor(after)

    def move_to(self, timestamp: float) -> None:
        """Jump to an absolute Unix timestamp (forwards or backwards)."""
        with self._lock:
            before, self._now = self._now, float(timestamp)
        self._moved(before, float(timestamp))

    def __repr__(self) -> str:
        return f"FrozenClock(now={self.now()})"


class RealClock(_Observed):
    """Wall-clock time, for the local server; `advance` adds an offset so expiry stays testable."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = 0.0

    def now(self) -> int:
        return math.floor(time.time() + self._offset)

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> int:
        before = time.time() + self._offset
        self._offset += seconds + 60 * minutes + 3600 * hours
        self._moved(before, time.time() + self._offset)
        return self.now()

    def move_to(self, timestamp: float) -> None:
        before = time.time() + self._offset
        self._offset = float(timestamp) - time.time()
        self._moved(before, float(timestamp))

    def __repr__(self) -> str:
        return f"RealClock(offset={self._offset:g})"
