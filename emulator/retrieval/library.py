"""The library: uploaded files and vector stores, with the service's rules, no HTTP, no API keys.

`Library` holds every file (its object and bytes) and every vector store (``VectorStores``), and
answers what the backend's Files and Vector Stores resources ask. It is also the run engine's
``Knowledge``: search over a run's stores, expiry, activity, finishing a thread store's ingestion
before a run, and files written by code_interpreter. Callers hold the store lock.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence

from ..state.clock import Clock
from ..state.ids import IdGenerator
from ..state.settings import Settings
from ..state.store import Collection, Order
from ..wire import files as wire
from ..wire.errors import InvalidRequestError
from ..wire.objects import Obj, Page, clone
from .extract import check_supported
from .filters import Filter
from .ingest import ChunkingStrategy
from .search import SearchResult, search
from .vector_stores import Batch, VectorStore, VectorStores, strategy_of

DOWNLOAD_FORBIDDEN = frozenset({"assistants", "user_data"})
"""Purposes whose bytes the service would not send back (files-vector-stores.md §2.5)."""
BATCH_FILE_TTL = 30 * 86_400  # `batch` uploads expire after 30 days unless told otherwise


class Library:
    """Files and vector stores of one emulated service (see the module docstring)."""

    def __init__(self, clock: Clock, ids: IdGenerator, settings: Settings) -> None:
        self.clock = clock
        self.ids = ids
        self.settings = settings
        self.files = Collection()
        self.data: dict[str, bytes] = {}
        self.vector_stores = VectorStores(clock, settings, self._source)
        self.on_file_deleted: list[Callable[[str], None]] = []

    def clear(self) -> None:
        self.files = Collection()
        self.data.clear()
        self.vector_stores.clear()

    # --- ids shaped like the real ones ---------------------------------------------------------

    def _file_id(self) -> str:
        return "file-" + self.ids.new("file").partition("_")[2][:22]

    def _hex_id(self, prefix: str) -> str:
        seed = self.ids.new(prefix).partition("_")[2]
        return f"{prefix}_{hashlib.sha256(seed.encode()).hexdigest()[:32]}"

    def new_store_id(self) -> str:
        return self._hex_id("vs")

    def new_batch_id(self) -> str:
        return self._hex_id("vsfb")

    # --- files -----------------------------------------------------------------------------

    def upload(
        self, filename: str, data: bytes, purpose: str, *, expires_after: int | None = None
    ) -> Obj:
        """Store an upload (purpose and expiry already checked); the size limit is a 400."""
        limit = self.settings.max_file_bytes
        if len(data) > limit:
            raise wire.FilesAPIError(
                f"File is too large: {len(data)} bytes. The maximum size of a file is {limit} "
                "bytes (512 MB for the service).",
                param="file",
            )
        now = self.clock.now()
        if expires_after is None and purpose == "batch":
            expires_after = BATCH_FILE_TTL
        file = wire.file_object(
            self._file_id(),
            purpose=purpose,
            filename=filename,
            size=len(data),
            created_at=now,
            expires_at=None if expires_after is None else now + expires_after,
        )
        self.files.add(file)
        self.data[file["id"]] = bytes(data)
        return file

    def file(self, file_id: str) -> Obj | None:
        """The file, None when unknown, deleted or expired (expired files are deleted here)."""
        found = self.files.get(file_id)
        expires_at = None if found is None else found["expires_at"]
        if expires_at is not None and self.clock.now() >= expires_at:
            self.delete_file(file_id)
            return None
        return found

    def content(self, file_id: str) -> tuple[str, bytes]:
        """The bytes of a file the service lets users download (the real 400 otherwise)."""
        found = self.file(file_id)
        if found is None:
            raise wire.no_such_file(file_id)
        if found["purpose"] in DOWNLOAD_FORBIDDEN and not self.settings.allow_file_downloads:
            raise wire.FilesAPIError(
                f"Not allowed to download files of purpose: {found['purpose']}"
            )
        return found["filename"], self.data[file_id]

    def file_page(
        self,
        *,
        limit: int,
        order: Order,
        after: str | None,
        where: Callable[[Obj], bool] | None = None,
    ) -> Page:
        for file in list(self.files):  # expired files leave first
            self.file(file["id"])
        return self.files.page(limit=limit, order=order, after=after, where=where)

    def delete_file(self, file_id: str) -> Obj:
        """Delete a file: it leaves every vector store, and the `on_file_deleted` hooks run."""
        self.files.remove(file_id)
        self.data.pop(file_id, None)
        self.vector_stores.forget_file(file_id)
        for hook in self.on_file_deleted:
            hook(file_id)
        return wire.file_deleted(file_id)

    def missing(self, file_ids: Iterable[str]) -> list[str]:
        """The ids among `file_ids` that name no file, in order, once each."""
        found: list[str] = []
        for file_id in file_ids:
            if self.file(file_id) is None and file_id not in found:
                found.append(file_id)
        return found

    def check_retrievable(self, file_ids: Sequence[str]) -> None:
        """404 for unknown files, then the real 400 for extensions file_search refuses."""
        missing = self.missing(file_ids)
        if missing:
            raise wire.files_not_found(missing)
        check_supported(*(self.files.get(i)["filename"] for i in file_ids))  # type: ignore[index]

    def _source(self, file_id: str) -> tuple[str, bytes] | None:
        found = self.files.get(file_id)
        return None if found is None else (found["filename"], self.data[file_id])

    # --- vector stores ---------------------------------------------------------------------

    def store(self, store_id: str) -> VectorStore:
        """The store, or the 404."""
        found = self.vector_stores.get(store_id)
        if found is None:
            raise wire.no_vector_store(store_id)
        return found

    def live_store(self, store_id: str) -> VectorStore:
        """The store, or the 404, or the 400 of an expired store."""
        store = self.store(store_id)
        if self.vector_stores.expired(store):
            raise wire.store_expired(store_id)
        return store

    def create_store(
        self,
        *,
        file_ids: Sequence[str] = (),
        strategy: ChunkingStrategy,
        name: str | None = None,
        description: str | None = None,
        expires_after: Obj | None = None,
        metadata: Obj | None = None,
    ) -> Obj:
        """A new store with its files attached; the answer shows them `in_progress`."""
        self.check_retrievable(file_ids)
        store = self.vector_stores.create(
            self.new_store_id(),
            name=name,
            description=description,
            expires_after=expires_after,
            metadata=metadata,
        )
        for file_id in file_ids:
            self.vector_stores.attach(store, file_id, strategy, {})
        answer = self.vector_stores.render(store)
        self.vector_stores.settle(store, poll=False)
        return answer

    def view(self, store_id: str, *, poll: bool = True) -> Obj:
        store = self.store(store_id)
        self.vector_stores.settle(store, poll=poll)
        return self.vector_stores.render(store)

    def delete_store(self, store_id: str) -> Obj:
        self.store(store_id)
        self.vector_stores.remove(store_id)
        return wire.deleted(store_id, "vector_store.deleted")

    def search_store(
        self,
        store_id: str,
        queries: Sequence[str],
        *,
        max_num_results: int,
        score_threshold: float,
        filters: Filter | None,
    ) -> list[SearchResult]:
        """Search one store's completed files (the store becomes active)."""
        store = self.live_store(store_id)
        self.vector_stores.settle(store, poll=False)
        self.vector_stores.touch(store)
        return self._search([store], queries, max_num_results, score_threshold, filters)

    def _search(
        self,
        stores: Sequence[VectorStore],
        queries: Sequence[str],
        max_num_results: int,
        score_threshold: float,
        filters: Filter | None = None,
    ) -> list[SearchResult]:
        attributes = {f["id"]: f["attributes"] for store in stores for f in store.files}
        return search(
            [store.index for store in stores],
            list(queries),
            max_num_results=max_num_results,
            score_threshold=score_threshold,
            filters=filters,
            attributes=attributes,
            ranker=self.settings.ranker,
        )

    def attach(
        self, store_id: str, file_id: str, strategy: ChunkingStrategy, attributes: Obj
    ) -> Obj:
        store = self.live_store(store_id)
        self.check_retrievable([file_id])
        answer = clone(self.vector_stores.attach(store, file_id, strategy, attributes))
        self.vector_stores.settle(store, poll=False)
        return answer

    def store_file(self, store_id: str, file_id: str, *, poll: bool = True) -> Obj:
        store = self.store(store_id)
        self.vector_stores.settle(store, poll=poll)
        found = store.files.get(file_id)
        if found is None:
            raise wire.no_store_file(file_id, store_id)
        return found

    def detach(self, store_id: str, file_id: str) -> Obj:
        self.store_file(store_id, file_id, poll=False)
        self.vector_stores.detach(self.store(store_id), file_id)
        return wire.deleted(file_id, "vector_store.file.deleted")

    def store_file_content(self, store_id: str, file_id: str) -> Obj:
        store_file = self.store_file(store_id, file_id)
        source = self._source(file_id)
        if store_file["status"] != "completed" or source is None:
            return wire.file_content_page([])
        document = self.vector_stores.document(file_id, *source, strategy_of(store_file))
        return wire.file_content_page([] if isinstance(document, Exception) else [*document.pages])

    def create_batch(
        self, store_id: str, entries: Sequence[tuple[str, ChunkingStrategy, Obj]]
    ) -> Obj:
        store = self.live_store(store_id)
        self.check_retrievable([file_id for file_id, _, _ in entries])
        batch = self.vector_stores.add_batch(store, self.new_batch_id(), entries)
        answer = self.vector_stores.render_batch(store, batch)
        self.vector_stores.settle(store, poll=False)
        return answer

    def batch(
        self, store_id: str, batch_id: str, *, poll: bool = True
    ) -> tuple[VectorStore, Batch]:
        store = self.store(store_id)
        found = store.batches.get(batch_id)
        if found is None:
            raise wire.no_batch(batch_id, store_id)
        self.vector_stores.settle(store, poll=poll)
        return store, found

    def view_batch(self, store_id: str, batch_id: str) -> Obj:
        return self.vector_stores.render_batch(*self.batch(store_id, batch_id))

    def cancel_batch(self, store_id: str, batch_id: str) -> Obj:
        store, batch = self.batch(store_id, batch_id, poll=False)
        self.vector_stores.cancel(store, batch)
        return self.vector_stores.render_batch(store, batch)

    # --- Knowledge: what runs need ---------------------------------------------------------

    def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        max_num_results: int,
        score_threshold: float,
    ) -> list[SearchResult]:
        """Search a run's stores as one corpus; unknown or deleted stores are skipped."""
        stores = [s for i in dict.fromkeys(vector_store_ids) if (s := self.vector_stores.get(i))]
        return self._search(stores, queries, max_num_results, score_threshold)

    def has_files(self, vector_store_ids: Sequence[str]) -> bool:
        """Whether any of the stores holds a completed (searchable) file."""
        return any(
            len(store.index) > 0
            for store_id in vector_store_ids
            if (store := self.vector_stores.get(store_id)) is not None
        )

    def expired_store(self, vector_store_ids: Sequence[str]) -> str | None:
        for store_id in vector_store_ids:
            store = self.vector_stores.get(store_id)
            if store is not None and self.vector_stores.expired(store):
                return store_id
        return None

    def touch(self, vector_store_ids: Sequence[str]) -> None:
        for store_id in vector_store_ids:
            store = self.vector_stores.get(store_id)
            if store is not None:
                self.vector_stores.touch(store)

    def finish_ingestion(self, vector_store_ids: Sequence[str]) -> None:
        """Resting progress: a thread store's pending files finish before the run reads it."""
        for store_id in vector_store_ids:
            store = self.vector_stores.get(store_id)
            if store is not None:
                self.vector_stores.settle(store, poll=False)

    def add_output_file(self, filename: str, data: bytes) -> str:
        """A file code_interpreter wrote (purpose `assistants_output`); returns its id."""
        file = wire.file_object(
            self._file_id(),
            purpose="assistants_output",
            filename=filename,
            size=len(data),
            created_at=self.clock.now(),
            expires_at=None,
        )
        self.files.add(file)
        self.data[file["id"]] = bytes(data)
        return str(file["id"])

    def file_name(self, file_id: str) -> str | None:
        found = self.file(file_id)
        return None if found is None else str(found["filename"])

    # --- snapshots and invariants ----------------------------------------------------------

    def dump(self) -> Obj:
        """Files (bytes as base64), stores, their files and batches, as JSON data."""
        stores = []
        for store_id in self.vector_stores.order.ids():
            store = self.vector_stores.stores[store_id]
            batches = [
                {"id": b.id, "created_at": b.created_at, "file_ids": b.file_ids,
                 "cancelled": b.cancelled}
                for b in store.batches.values()
            ]  # fmt: skip
            stores.append({"store": store.obj, "files": store.files.values(), "batches": batches})
        files = [
            {"file": file, "data": base64.b64encode(self.data[file["id"]]).decode()}
            for file in self.files.values()
        ]
        return clone({"files": files, "vector_stores": stores})

    def load(self, data: Obj) -> None:
        """Replace everything with `dump()` data; completed files are ingested again."""
        self.clear()
        for entry in data["files"]:
            file = dict(entry["file"])
            if file.get("object") != "file" or not isinstance(file.get("id"), str):
                raise ValueError(f"not a file object: {str(file)[:80]}")
            self.files.add(file)
            self.data[file["id"]] = base64.b64decode(entry["data"], validate=True)
        for entry in data["vector_stores"]:
            store = self.vector_stores.create(entry["store"]["id"])
            store.obj.update(entry["store"])
            for store_file in entry["files"]:
                store.files.add(dict(store_file))
                if store_file["status"] == "completed":
                    filename, content = self._source(store_file["id"]) or ("", b"")
                    document = self.vector_stores.document(
                        store_file["id"], filename, content, strategy_of(store_file)
                    )
                    if isinstance(document, Exception):
                        raise ValueError(f"{store_file['id']} no longer ingests: {document}")
                    store.index.add(store_file["id"], filename, document.chunks)
            for b in entry["batches"]:
                batch = Batch(str(b["id"]), int(b["created_at"]), list(b["file_ids"]))
                batch.cancelled = bool(b["cancelled"])
                store.batches[batch.id] = batch

    def check_invariants(self) -> list[str]:
        problems: list[str] = []
        if set(self.data) != {f["id"] for f in self.files}:
            problems.append("file bytes do not match the files")
        for store in self.vector_stores.stores.values():
            completed = sorted(f["id"] for f in store.files if f["status"] == "completed")
            if sorted(store.index.file_ids) != completed:
                problems.append(f"{store.id} index does not hold exactly its completed files")
            for store_file in store.files:
                if store_file["id"] not in self.files:
                    problems.append(f"{store.id} holds the deleted file {store_file['id']}")
        return problems


def check_upload_purpose(purpose: str | None) -> str:
    """The upload's purpose, or the recorded 400."""
    if purpose is None:
        raise InvalidRequestError(
            "Missing required parameter: 'purpose'.",
            param="purpose",
            code="missing_required_parameter",
        )
    if purpose not in wire.FILE_PURPOSES:
        raise wire.bad_purpose(purpose)
    return purpose
