"""In-memory state: plain dicts of wire-shaped objects, ordered per collection, behind one lock.

Objects are stored exactly as the API renders them (`dict`s with the real keys), so rendering is
a copy and snapshots are JSON. Invariants that span objects are checked by `check_invariants`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal, TypeVar

from ..wire.objects import Obj, Page
from .lock import StoreLock

Order = Literal["asc", "desc"]
T = TypeVar("T")

ACTIVE_RUN_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})


class Collection:
    """Objects by id, in creation order, with O(1) lookup and cursor pages that need no scan.

    Deleted ids leave a hole in `_order` that is compacted once holes outnumber live objects,
    so deletes stay O(1) amortised and a page costs O(limit) plus the holes it skips.
    """

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._order: list[str] = []
        self._position: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, object_id: object) -> bool:
        return object_id in self._items

    def __iter__(self) -> Iterator[Obj]:
        return iter(self._items.values())

    def get(self, object_id: str) -> Obj | None:
        return self._items.get(object_id)

    def add(self, obj: Obj) -> None:
        object_id = obj["id"]
        if object_id in self._items:
            raise KeyError(f"duplicate id {object_id}")
        self._items[object_id] = obj
        self._position[object_id] = len(self._order)
        self._order.append(object_id)

    def remove(self, object_id: str) -> Obj | None:
        obj = self._items.pop(object_id, None)
        self._position.pop(object_id, None)
        if obj is not None and len(self._order) > 2 * len(self._items) + 32:
            self._compact()
        return obj

    def ids(self) -> list[str]:
        """Live ids in creation order (compacts first when deletes left holes)."""
        if len(self._order) != len(self._items):
            self._compact()
        return self._order

    def _compact(self) -> None:
        self._order = [i for i in self._order if i in self._items]
        self._position = {object_id: n for n, object_id in enumerate(self._order)}

    def last(self) -> Obj | None:
        for object_id in reversed(self._order):
            if object_id in self._items:
                return self._items[object_id]
        return None

    def values(self) -> list[Obj]:
        return list(self._items.values())

    def newest_first(self) -> Iterator[Obj]:
        for object_id in reversed(self._order):
            obj = self._items.get(object_id)
            if obj is not None:
                yield obj

    def page(
        self,
        *,
        limit: int,
        order: Order,
        after: str | None = None,
        before: str | None = None,
        where: Callable[[Obj], bool] | None = None,
    ) -> Page:
        """A page as the API returns it: `after`/`before` are exclusive cursors in `order`."""
        ids = self._order
        n = len(ids)
        forward = order == "asc"
        if after is not None or before is not None:
            cursor = after if after is not None else before
            index = self._position.get(cursor) if cursor is not None else None
            if index is None:
                return Page([], False)
            # Walk away from the cursor: towards the end of `order` for `after`, back for `before`.
            step = (1 if forward else -1) * (1 if after is not None else -1)
            start = index + step
        else:
            step = 1 if forward else -1
            start = 0 if forward else n - 1
        found: list[Obj] = []
        i = start
        while 0 <= i < n and len(found) <= limit:
            obj = self._items.get(ids[i])
            if obj is not None and (where is None or where(obj)):
                found.append(obj)
            i += step
        has_more = len(found) > limit
        found = found[:limit]
        if after is None and before is not None:
            found.reverse()  # `before` pages are still listed in the requested order
        return Page(found, has_more)


class Store:
    """Every object the emulator holds. Engine code takes `lock` around each operation."""

    def __init__(self) -> None:
        self.lock = StoreLock()
        self.clear()

    def clear(self) -> None:
        self.assistants = Collection()
        self.threads = Collection()
        self.messages: dict[str, Collection] = {}  # thread id -> messages
        self.runs: dict[str, Collection] = {}  # thread id -> runs
        self.steps: dict[str, Collection] = {}  # run id -> run steps
        self.run_thread: dict[str, str] = {}  # run id -> thread id
        self.active_run: dict[str, str] = {}  # thread id -> id of its one non-terminal run
        self.owner: dict[str, str] = {}  # assistant/thread id -> API key that created it

    def add_thread(self, thread: Obj) -> None:
        self.threads.add(thread)
        self.messages[thread["id"]] = Collection()
        self.runs[thread["id"]] = Collection()

    def remove_thread(self, thread_id: str) -> None:
        """Delete a thread with its messages, runs and steps."""
        self.threads.remove(thread_id)
        self.messages.pop(thread_id, None)
        for run in self.runs.pop(thread_id, Collection()):
            self.steps.pop(run["id"], None)
            self.run_thread.pop(run["id"], None)
        self.active_run.pop(thread_id, None)
        self.owner.pop(thread_id, None)

    def add_run(self, run: Obj) -> None:
        self.runs[run["thread_id"]].add(run)
        self.steps[run["id"]] = Collection()
        self.run_thread[run["id"]] = run["thread_id"]

    def counts(self) -> dict[str, int]:
        """How many objects of each kind are stored."""
        return {
            "assistants": len(self.assistants),
            "threads": len(self.threads),
            "messages": sum(len(c) for c in self.messages.values()),
            "runs": sum(len(c) for c in self.runs.values()),
            "steps": sum(len(c) for c in self.steps.values()),
        }

    def check_invariants(self) -> list[str]:
        """Every broken cross-object rule, as text; an empty list means the state is consistent."""
        problems: list[str] = []
        thread_ids = {t["id"] for t in self.threads}
        if set(self.messages) != thread_ids or set(self.runs) != thread_ids:
            problems.append("message/run collections do not match the threads")
        for thread_id, messages in self.messages.items():
            for message in messages:
                if message["thread_id"] != thread_id:
                    problems.append(f"{message['id']} filed under {thread_id}")
        run_ids: set[str] = set()
        for thread_id, runs in self.runs.items():
            active = [r["id"] for r in runs if r["status"] in ACTIVE_RUN_STATUSES]
            if len(active) > 1:
                problems.append(f"{thread_id} has several active runs: {active}")
            if active != ([self.active_run[thread_id]] if thread_id in self.active_run else []):
                problems.append(f"{thread_id} active run is {active}, recorded otherwise")
            for run in runs:
                run_ids.add(run["id"])
                if run["thread_id"] != thread_id:
                    problems.append(f"{run['id']} filed under {thread_id}")
                if (run["required_action"] is not None) != (run["status"] == "requires_action"):
                    problems.append(f"{run['id']} required_action does not match its status")
                if run["expires_at"] is not None and run["expires_at"] != run["created_at"] + 600:
                    problems.append(f"{run['id']} expires_at is not created_at + 600")
        if set(self.steps) != run_ids:
            problems.append("step collections do not match the runs")
        for run_id, steps in self.steps.items():
            for step in steps:
                if step["run_id"] != run_id:
                    problems.append(f"{step['id']} filed under {run_id}")
        return problems
