"""A small in-memory `Knowledge` for engine tests: named stores of chunked text searched with
the real BM25 index, expired stores on demand, output files kept in a dict, and a log of what
the engine asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emulator.retrieval import SearchIndex, SearchResult, chunk, search


class FakeKnowledge:
    def __init__(self) -> None:
        self.indexes: dict[str, SearchIndex] = {}
        self.names: dict[str, str] = {}
        self.expired: set[str] = set()
        self.outputs: dict[str, tuple[str, bytes]] = {}
        self.log: list[tuple[Any, ...]] = []

    def add(self, store_id: str, file_id: str, filename: str, text: str) -> None:
        self.indexes.setdefault(store_id, SearchIndex()).add(file_id, filename, chunk(text))
        self.names[file_id] = filename

    def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        max_num_results: int,
        score_threshold: float,
    ) -> list[SearchResult]:
        self.log.append(("search", list(vector_store_ids), list(queries), max_num_results))
        indexes = [self.indexes[i] for i in vector_store_ids if i in self.indexes]
        return search(
            indexes, queries, max_num_results=max_num_results, score_threshold=score_threshold
        )

    def has_files(self, vector_store_ids: Sequence[str]) -> bool:
        return any(len(self.indexes.get(i, ())) for i in vector_store_ids)

    def expired_store(self, vector_store_ids: Sequence[str]) -> str | None:
        return next((i for i in vector_store_ids if i in self.expired), None)

    def touch(self, vector_store_ids: Sequence[str]) -> None:
        self.log.append(("touch", list(vector_store_ids)))

    def finish_ingestion(self, vector_store_ids: Sequence[str]) -> None:
        self.log.append(("finish_ingestion", list(vector_store_ids)))

    def add_output_file(self, filename: str, data: bytes) -> str:
        file_id = f"file-out{len(self.outputs)}"
        self.outputs[file_id] = (filename, data)
        self.names[file_id] = filename
        return file_id

    def file_name(self, file_id: str) -> str | None:
        return self.names.get(file_id)
