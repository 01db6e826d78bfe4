"""What every resource of the backend shares: the state it acts on, the key scope it acts for,
and the lookups that make an object another key owns look absent (the real 404).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.runs import RunEngine
from ..retrieval.library import Library
from ..retrieval.vector_stores import VectorStore
from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings
from ..state.store import Collection, Order, Store
from ..wire import files as file_errors
from ..wire.errors import not_found
from ..wire.objects import Obj, Page


@dataclass(frozen=True)
class ListQuery:
    """A cursor list request: `limit`, `order`, `after`, `before`."""

    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Service:
    """The state of one emulated service, shared by every scope."""

    store: Store
    clock: Clock
    ids: IdGenerator
    settings: Settings
    engine: RunEngine
    library: Library


class Resource:
    """One resource's operations for one key scope (`owner`: the API key, or None for all)."""

    def __init__(self, service: Service, owner: str | None) -> None:
        self.service = service
        self.store = service.store
        self.engine = service.engine
        self.library = service.library
        self.owner = owner

    # --- key scope -----------------------------------------------------------------------

    def visible(self, object_id: str) -> bool:
        recorded = self.store.owner.get(object_id)
        return recorded is None or self.owner is None or recorded == self.owner

    def claim(self, object_id: str) -> None:
        if self.owner is not None:
            self.store.owner[object_id] = self.owner

    def assistant(self, assistant_id: str) -> Obj:
        """The assistant, or the real 404 (also for one another API key owns)."""
        found = self.store.assistants.get(assistant_id)
        if found is None or not self.visible(assistant_id):
            raise not_found("assistant", assistant_id)
        return found

    def thread(self, thread_id: str) -> Obj:
        """The thread, or the real 404 (also for one another API key owns)."""
        found = self.store.threads.get(thread_id)
        if found is None or not self.visible(thread_id):
            raise not_found("thread", thread_id)
        return found

    def file(self, file_id: str) -> Obj:
        """The file, or the recorded 404 of `/files` (also for one another API key owns)."""
        found = self.library.file(file_id)
        if found is None or not self.visible(file_id):
            raise file_errors.no_such_file(file_id)
        return found

    def check_files(self, file_ids: list[str]) -> None:
        """404 `Files [...] were not found` naming every unknown (or foreign) file."""
        missing = [i for i in file_ids if self.library.file(i) is None or not self.visible(i)]
        if missing:
            raise file_errors.files_not_found(list(dict.fromkeys(missing)))

    def vector_store(self, store_id: str) -> VectorStore:
        """The vector store, or the 404 (also for one another API key owns)."""
        found = self.library.vector_stores.get(store_id)
        if found is None or not self.visible(store_id):
            raise file_errors.no_vector_store(store_id)
        return found

    # --- shared helpers ------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return self.service.ids.new(prefix)

    def now(self) -> int:
        return self.service.clock.now()


def dump(body: Any) -> Obj:
    """A validated body as plain data: only the fields the client sent, by their wire names
    (`body.model_dump(by_alias=True, exclude_unset=True)` without its Python wrapper)."""
    data: Obj = body.__pydantic_serializer__.to_python(body, by_alias=True, exclude_unset=True)
    return data


def page(
    collection: Collection,
    query: ListQuery,
    where: Any = None,
    visible: Callable[[str], bool] | None = None,
) -> Page:
    """A page of a collection as a list request asks for it. A cursor that is not `visible`
    (another key's object) is looked up as an id that does not exist, so the page is exactly
    the one an unknown id gets and tells nothing about other keys' objects."""
    after, before = query.after, query.before
    if visible is not None:
        after = after if after is None or visible(after) else _NO_SUCH_ID
        before = before if before is None or visible(before) else _NO_SUCH_ID
    return collection.page(
        limit=query.limit, order=query.order, after=after, before=before, where=where
    )


_NO_SUCH_ID = ""  # no object has an empty id
