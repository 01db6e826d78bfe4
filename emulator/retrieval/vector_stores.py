"""Vector stores, their files and file batches: state and rules, no HTTP, no API keys.

Each store keeps its files (wire-shaped, in attach order), its batches and one ``SearchIndex``
of its completed files. Counters, ``usage_bytes`` and ``status`` are computed from the files on
every read, so they always equal the sums (files-vector-stores.md §3.3).

Ingestion follows the emulator's progress modes, like runs do:

* ``resting`` (default): a file is ingested within the request that attached it. The answer
  still shows it ``in_progress`` (as the service answered), and the first GET sees it finished,
  so the SDK's ``create_and_poll``/``upload_and_poll`` return without sleeping.
* ``step``: files stay ``in_progress`` until the store is next read (a GET of the store, its
  files, a file or a batch); that read finishes them.
* ``hold_ingestion``: nothing finishes until released, whatever the mode.

A store expires ``days`` after ``last_active_at`` (creation, attach, a file finishing, a search,
a run's use); once ``now >= expires_at`` it reads ``expired`` and refuses attaches, batches and
searches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..state.clock import Clock
from ..state.settings import Settings
from ..state.store import Collection, Order
from ..wire import files as wire
from ..wire.objects import Obj, Page
from .extract import ExtractionError
from .ingest import ChunkingStrategy, Document, ingest
from .search import SearchIndex

DAY = 86_400
Source = Callable[[str], tuple[str, bytes] | None]
"""A file's name and bytes by id, None when the file is gone."""


@dataclass
class Batch:
    """A file batch: its id, creation time, files (in order) and whether it was cancelled."""

    id: str
    created_at: int
    file_ids: list[str]
    cancelled: bool = False


@dataclass
class VectorStore:
    """One store: its wire fields, its files, its batches and its search index."""

    obj: Obj
    files: Collection = field(default_factory=Collection)
    batches: dict[str, Batch] = field(default_factory=dict)
    index: SearchIndex = field(default_factory=SearchIndex)

    @property
    def id(self) -> str:
        return str(self.obj["id"])


def strategy_of(store_file: Obj) -> ChunkingStrategy:
    static = store_file["chunking_strategy"]["static"]
    return ChunkingStrategy(static["max_chunk_size_tokens"], static["chunk_overlap_tokens"])


class VectorStores:
    """Every vector store, with the ingestion and expiry rules. Callers hold the store lock."""

    def __init__(self, clock: Clock, settings: Settings, source: Source) -> None:
        self.clock = clock
        self.settings = settings
        self.source = source
        self.stores: dict[str, VectorStore] = {}
        self.order = Collection()  # the stores' wire objects, for paging
        self.documents: dict[tuple[str, ChunkingStrategy], Document | ExtractionError] = {}

    def clear(self) -> None:
        self.stores.clear()
        self.order = Collection()
        self.documents.clear()

    # --- stores ----------------------------------------------------------------------------

    def create(
        self,
        store_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        expires_after: Obj | None = None,
        metadata: Obj | None = None,
    ) -> VectorStore:
        now = self.clock.now()
        obj = {
            "id": store_id,
            "created_at": now,
            "name": name,
            "description": description,
            "expires_after": dict(expires_after) if expires_after else None,
            "last_active_at": now,
            "metadata": dict(metadata or {}),
        }
        store = self.stores[store_id] = VectorStore(obj)
        self.order.add(obj)
        return store

    def get(self, store_id: str) -> VectorStore | None:
        return self.stores.get(store_id)

    def remove(self, store_id: str) -> None:
        self.stores.pop(store_id, None)
        self.order.remove(store_id)

    def expires_at(self, store: VectorStore) -> int | None:
        policy = store.obj["expires_after"]
        if policy is None:
            return None
        return int(store.obj["last_active_at"]) + int(policy["days"]) * DAY

    def expired(self, store: VectorStore) -> bool:
        expires_at = self.expires_at(store)
        return expires_at is not None and self.clock.now() >= expires_at

    def touch(self, store: VectorStore) -> None:
        """Activity: `last_active_at` moves to now (an expired store stays expired)."""
        if not self.expired(store):
            store.obj["last_active_at"] = self.clock.now()

    def render(self, store: VectorStore) -> Obj:
        """The store as the API shows it, counters and status computed from its files."""
        statuses = [f["status"] for f in store.files]
        if self.expired(store):
            status = "expired"
        elif "in_progress" in statuses:
            status = "in_progress"
        else:
            status = "completed"
        obj = store.obj
        return wire.vector_store(
            store.id,
            created_at=obj["created_at"],
            name=obj["name"],
            description=obj["description"],
            usage_bytes=sum(f["usage_bytes"] for f in store.files),
            counts=wire.file_counts(statuses),
            status=status,
            expires_after=dict(obj["expires_after"]) if obj["expires_after"] else None,
            expires_at=self.expires_at(store),
            last_active_at=obj["last_active_at"],
            metadata=dict(obj["metadata"]),
        )

    def page(
        self, *, limit: int, order: Order, after: str | None, before: str | None, where: Any
    ) -> Page:
        found = self.order.page(limit=limit, order=order, after=after, before=before, where=where)
        return Page([self.render(self.stores[o["id"]]) for o in found.data], found.has_more)

    # --- files of a store ------------------------------------------------------------------

    def attach(
        self, store: VectorStore, file_id: str, strategy: ChunkingStrategy, attributes: Obj
    ) -> Obj:
        """Add a file `in_progress` (an attached file is answered unchanged)."""
        found = store.files.get(file_id)
        if found is not None:
            return found
        store_file = wire.vector_store_file(
            file_id,
            usage_bytes=0,
            created_at=self.clock.now(),
            vector_store_id=store.id,
            status="in_progress",
            last_error=None,
            chunking_strategy=strategy.to_wire(),
            attributes=dict(attributes),
        )
        store.files.add(store_file)
        self.touch(store)
        return store_file

    def detach(self, store: VectorStore, file_id: str) -> None:
        store.files.remove(file_id)
        store.index.remove(file_id)

    def forget_file(self, file_id: str) -> None:
        """A deleted file leaves every store and the document cache."""
        for store in self.stores.values():
            self.detach(store, file_id)
        for key in [key for key in self.documents if key[0] == file_id]:
            del self.documents[key]

    def settle(self, store: VectorStore, *, poll: bool) -> None:
        """Finish the store's pending files as the progress mode says (module docstring)."""
        if self.settings.hold_ingestion:
            return
        if poll or self.settings.progress == "resting":
            self.finish(store)

    def finish(self, store: VectorStore) -> None:
        """Ingest every `in_progress` file of the store now."""
        for store_file in store.files:
            if store_file["status"] == "in_progress":
                self._ingest(store, store_file)

    def _ingest(self, store: VectorStore, store_file: Obj) -> None:
        file_id = store_file["id"]
        found = self.source(file_id)
        if found is None:  # cannot happen: a deleted file leaves its stores
            self.detach(store, file_id)
            return
        filename, data = found
        document = self.document(file_id, filename, data, strategy_of(store_file))
        if isinstance(document, ExtractionError):
            store_file["status"] = "failed"
            store_file["last_error"] = document.last_error()
        else:
            store_file["status"] = "completed"
            store_file["usage_bytes"] = document.usage_bytes
            store.index.add(file_id, filename, document.chunks)
        self.touch(store)

    def document(
        self, file_id: str, filename: str, data: bytes, strategy: ChunkingStrategy
    ) -> Document | ExtractionError:
        """A file's ingestion, done once per chunking strategy."""
        key = (file_id, strategy)
        if key not in self.documents:
            try:
                self.documents[key] = ingest(filename, data, strategy)
            except ExtractionError as error:
                self.documents[key] = error
        return self.documents[key]

    def file_page(
        self,
        store: VectorStore,
        *,
        limit: int,
        order: Order,
        after: str | None,
        before: str | None,
        status: str | None,
        only: set[str] | None = None,
    ) -> Page:
        def where(f: Obj) -> bool:
            return (status is None or f["status"] == status) and (only is None or f["id"] in only)

        return store.files.page(limit=limit, order=order, after=after, before=before, where=where)

    # --- batches ---------------------------------------------------------------------------

    def add_batch(
        self,
        store: VectorStore,
        batch_id: str,
        entries: Sequence[tuple[str, ChunkingStrategy, Obj]],
    ) -> Batch:
        batch = Batch(batch_id, self.clock.now(), [])
        for file_id, strategy, attributes in entries:
            self.attach(store, file_id, strategy, attributes)
            if file_id not in batch.file_ids:
                batch.file_ids.append(file_id)
        store.batches[batch_id] = batch
        return batch

    def cancel(self, store: VectorStore, batch: Batch) -> None:
        """Unfinished files of the batch become `cancelled` (a finished batch is unchanged)."""
        for file_id in batch.file_ids:
            store_file = store.files.get(file_id)
            if store_file is not None and store_file["status"] == "in_progress":
                store_file["status"] = "cancelled"
                batch.cancelled = True

    def render_batch(self, store: VectorStore, batch: Batch) -> Obj:
        files = [store.files.get(file_id) for file_id in batch.file_ids]
        statuses = [f["status"] for f in files if f is not None]
        if "in_progress" in statuses:
            status = "in_progress"
        elif batch.cancelled:
            status = "cancelled"
        elif statuses and all(s == "failed" for s in statuses):
            status = "failed"
        else:
            status = "completed"
        return wire.file_batch(
            batch.id,
            created_at=batch.created_at,
            status=status,
            vector_store_id=store.id,
            counts=wire.file_counts(statuses),
        )
