"""The store-wide lock: reentrant, and its holder can step out of it for slow work.

Every operation runs under it, so each request sees and leaves a consistent state. A model turn
is the exception: its slow parts (token counting, the responder, an upstream model) run inside
`released()`, so requests about other objects go on meanwhile (see `engine.runs`).
"""

from __future__ import annotations

import _thread
from types import TracebackType
from typing import Any

__all__ = ["StoreLock"]


class StoreLock(_thread.RLock):  # type: ignore[misc]  # final in typeshed, subclassable
    """A reentrant lock: `threading.RLock` itself (in C, so taking it runs no Python code: a
    request takes it several times), with `released()`.

    `released()` uses the methods `threading.Condition` waits with, which every RLock has:
    `_is_owned`, `_release_save` (let go however deeply held) and `_acquire_restore`."""

    def held(self) -> bool:
        """Whether the calling thread holds the lock."""
        owned: bool = self._is_owned()  # type: ignore[attr-defined]
        return owned

    def released(self) -> _Released:
        """Let go of the lock, however deeply this thread holds it, for the block; it is held
        again (as deeply) after it. Without the lock, the block runs as it is."""
        return _Released(self)


class _Released:
    """`StoreLock.released()`: a class rather than a generator, as every model turn takes one."""

    __slots__ = ("_lock", "_saved")

    def __init__(self, lock: StoreLock) -> None:
        self._lock = lock
        self._saved: Any = None

    def __enter__(self) -> None:
        if self._lock.held():
            self._saved = self._lock._release_save()  # type: ignore[attr-defined]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._saved is not None:
            self._lock._acquire_restore(self._saved)  # type: ignore[attr-defined]
