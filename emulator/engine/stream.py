"""The event sequence of a run: where transitions report themselves, and the streams that
follow a run as the client reads them.

Every transition reports itself to an `Events` sink, so a streamed request and a plain one walk
the same code and leave the same state (the sink only decides whether the events are kept as
SSE frames). A streamed request drives its run itself, one transition per read of its stream,
until the run rests (`requires_action` or terminal).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

from ..state.lock import StoreLock
from ..state.store import TERMINAL_RUN_STATUSES
from ..wire.objects import Obj
from ..wire.render import compact_json

RESTING = frozenset({"requires_action"}) | TERMINAL_RUN_STATUSES
RESTING_EVENTS = frozenset(f"thread.run.{status}" for status in RESTING)
Frame = tuple[str, str]  # (event name, compact JSON data)
FrameBatch = list[Frame]  # what one transition reported, sent together


class Events:
    """Where transitions report themselves; keeps compact-JSON SSE frames when `active`.

    `rested` turns true at a run's `requires_action` or terminal event: a stream ends there.
    `include_content`: the request asked for file_search result `content` (`include[]`).
    """

    def __init__(self, active: bool = False, *, include_content: bool = False) -> None:
        self.active = active
        self.include_content = include_content
        self.frames: list[Frame] = []
        self.rested = False

    def __call__(self, name: str, data: Obj) -> None:
        if self.active:
            self.frames.append((name, compact_json(data)))
        if name in RESTING_EVENTS:
            self.rested = True


class Streams:
    """The open streams, by the id of the run each follows."""

    def __init__(self, lock: StoreLock) -> None:
        self._lock = lock
        self._open: dict[str, Events] = {}

    def clear(self) -> None:
        self._open.clear()

    def sink(self, run_id: str, events: Events) -> Events:
        """Where a run's transitions go: the stream following the run, if one is open."""
        stream = self._open.get(run_id)
        return stream if stream is not None and not stream.rested else events

    def follow(
        self, run_id: str, events: Events, step: Callable[[], Generator[None, None, None]]
    ) -> Iterator[FrameBatch]:
        """The frames of a streamed request, produced as the client reads them, in batches:
        what one transition (or one live delta) reported.

        First what the request itself produced, then what `step` (one transition) adds, once per
        read, until it adds nothing. `step` takes the lock itself and yields, without it, when
        it has frames to send before it is done (a model's deltas as they come). Transitions
        other requests cause meanwhile (a cancel, a GET) join this stream, as `sink` sends them
        here.
        """
        with self._lock:
            self._open[run_id] = events
        return self._frames(run_id, events, step)

    def _frames(
        self, run_id: str, events: Events, step: Callable[[], Generator[None, None, None]]
    ) -> Iterator[FrameBatch]:
        try:
            while True:
                with self._lock:
                    frames, events.frames = events.frames, []
                    following = self._open.get(run_id) is events
                if frames:
                    yield frames
                    continue
                if not following:
                    return
                moved = False
                steps = step()
                try:
                    for _ in steps:
                        frames = self._take(events)
                        if frames:
                            moved = True
                            yield frames
                finally:
                    steps.close()
                with self._lock:
                    if not moved and not events.frames:
                        return
        finally:
            with self._lock:
                if self._open.get(run_id) is events:
                    del self._open[run_id]

    def _take(self, events: Events) -> FrameBatch:
        with self._lock:
            frames, events.frames = events.frames, []
        return frames
