"""Vector stores, their files and file batches (files-vector-stores.md §3-§5).

Bodies are validated whole before anything changes; the rules themselves (ingestion, counters,
expiry) are `retrieval.library`'s.
"""

from __future__ import annotations

from typing import Any

from ..retrieval import parse_chunking_strategy, parse_search_request, search_results_page
from ..retrieval.filters import validate_attributes
from ..retrieval.ingest import ChunkingStrategy
from ..wire import vector_store_requests as schemas
from ..wire.errors import InvalidRequestError
from ..wire.objects import Obj, Page
from .base import ListQuery, Resource, dump

FILE_STATUSES = ("in_progress", "completed", "failed", "cancelled")


class VectorStores(Resource):
    # --- stores ----------------------------------------------------------------------------

    def create(self, body: schemas.CreateVectorStore) -> Obj:
        data = dump(body)
        strategy = parse_chunking_strategy(data.get("chunking_strategy"))
        file_ids = list(data.get("file_ids") or [])
        self.check_files(file_ids)
        store = self.library.create_store(
            file_ids=file_ids,
            strategy=strategy,
            name=data.get("name"),
            description=data.get("description"),
            expires_after=data.get("expires_after"),
            metadata=data.get("metadata"),
        )
        self.claim(store["id"])
        return store

    def get(self, store_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.view(store_id)

    def modify(self, store_id: str, body: schemas.ModifyVectorStore) -> Obj:
        store = self.vector_store(store_id)
        changes = dump(body)
        for key in ("name", "expires_after"):
            if key in changes:
                store.obj[key] = changes[key]
        if "metadata" in changes:
            store.obj["metadata"] = dict(changes["metadata"] or {})
        return self.library.view(store_id, poll=False)

    def delete(self, store_id: str) -> Obj:
        self.vector_store(store_id)
        self.store.owner.pop(store_id, None)
        return self.library.delete_store(store_id)

    def list(self, query: ListQuery) -> Page:
        return self.library.vector_stores.page(
            limit=query.limit,
            order=query.order,
            after=query.after,
            before=query.before,
            where=None if self.owner is None else lambda s: self.visible(s["id"]),
        )

    def search(self, store_id: str, body: Any) -> Obj:
        self.vector_store(store_id)
        request = parse_search_request(body)
        results = self.library.search_store(
            store_id,
            request.search_query,
            max_num_results=request.max_num_results,
            score_threshold=request.score_threshold,
            filters=request.filters,
        )
        return dict(search_results_page(request.search_query, results))

    # --- files of a store ------------------------------------------------------------------

    def create_file(self, store_id: str, body: schemas.CreateVectorStoreFile) -> Obj:
        self.vector_store(store_id)
        data = dump(body)
        strategy = parse_chunking_strategy(data.get("chunking_strategy"))
        attributes = validate_attributes(data.get("attributes"))
        self.library.live_store(store_id)
        self.check_files([body.file_id])
        return self.library.attach(store_id, body.file_id, strategy, attributes)

    def get_file(self, store_id: str, file_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.store_file(store_id, file_id)

    def update_file(self, store_id: str, file_id: str, body: schemas.UpdateVectorStoreFile) -> Obj:
        self.vector_store(store_id)
        attributes = validate_attributes(body.attributes)
        store_file = self.library.store_file(store_id, file_id, poll=False)
        store_file["attributes"] = attributes
        return store_file

    def delete_file(self, store_id: str, file_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.detach(store_id, file_id)

    def list_files(self, store_id: str, query: ListQuery, status: str | None) -> Page:
        store = self.vector_store(store_id)
        self.library.view(store_id)  # a read: pending files move on in step mode
        return self.library.vector_stores.file_page(
            store, **_cursor(query), status=_status_filter(status)
        )

    def file_content(self, store_id: str, file_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.store_file_content(store_id, file_id)

    # --- batches ---------------------------------------------------------------------------

    def create_batch(self, store_id: str, body: schemas.CreateFileBatch) -> Obj:
        self.vector_store(store_id)
        data = dump(body)
        if (body.file_ids is None) == (body.files is None):
            raise InvalidRequestError(
                "Provide exactly one of 'file_ids' or 'files': they are mutually exclusive.",
                param="file_ids",
            )
        entries: list[tuple[str, ChunkingStrategy, Obj]] = []
        if body.file_ids is not None:
            strategy = parse_chunking_strategy(data.get("chunking_strategy"))
            attributes = validate_attributes(data.get("attributes"))
            entries = [(file_id, strategy, attributes) for file_id in body.file_ids]
        else:
            for i, entry in enumerate(data["files"]):
                where = f"files[{i}]"
                entries.append(
                    (
                        entry["file_id"],
                        parse_chunking_strategy(
                            entry.get("chunking_strategy"), param=f"{where}.chunking_strategy"
                        ),
                        validate_attributes(entry.get("attributes"), param=f"{where}.attributes"),
                    )
                )
        self.library.live_store(store_id)
        self.check_files([file_id for file_id, _, _ in entries])
        return self.library.create_batch(store_id, entries)

    def get_batch(self, store_id: str, batch_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.view_batch(store_id, batch_id)

    def cancel_batch(self, store_id: str, batch_id: str) -> Obj:
        self.vector_store(store_id)
        return self.library.cancel_batch(store_id, batch_id)

    def list_batch_files(
        self, store_id: str, batch_id: str, query: ListQuery, status: str | None
    ) -> Page:
        self.vector_store(store_id)
        store, batch = self.library.batch(store_id, batch_id)
        return self.library.vector_stores.file_page(
            store, **_cursor(query), status=_status_filter(status), only=set(batch.file_ids)
        )


def _cursor(query: ListQuery) -> dict[str, Any]:
    return {
        "limit": query.limit,
        "order": query.order,
        "after": query.after,
        "before": query.before,
    }


def _status_filter(value: str | None) -> str | None:
    if value is not None and value not in FILE_STATUSES:
        listed = ", ".join(f"'{s}'" for s in FILE_STATUSES[:-1]) + f", and '{FILE_STATUSES[-1]}'"
        raise InvalidRequestError(
            f"Invalid value: '{value}'. Supported values are: {listed}.",
            param="filter",
            code="invalid_value",
        )
    return value
