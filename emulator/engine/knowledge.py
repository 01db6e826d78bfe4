"""What a run may know beyond its thread: the vector stores file_search reads and the files
code_interpreter writes.

The engine sees files and stores only through this protocol, so it never reaches the backend
that owns them: the Backend builds the engine with its retrieval library. `NO_KNOWLEDGE` stands
in when there is none: no store holds anything, and an output file is refused with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..retrieval.search import SearchResult

__all__ = ["NO_KNOWLEDGE", "Knowledge", "NoKnowledge", "OutputFileRefused"]


class Knowledge(Protocol):
    """The files and vector stores a run can use. Called with the store lock held."""

    def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        max_num_results: int,
        score_threshold: float,
    ) -> list[SearchResult]:
        """The best chunks over the stores' completed files, best first; unknown ids skipped."""
        ...

    def has_files(self, vector_store_ids: Sequence[str]) -> bool:
        """Whether any of the stores holds a completed file (unknown ids hold none)."""
        ...

    def expired_store(self, vector_store_ids: Sequence[str]) -> str | None:
        """The first of the stores that has expired, else None."""
        ...

    def touch(self, vector_store_ids: Sequence[str]) -> None:
        """A run used the stores: their `last_active_at` (and expiry) move to now."""
        ...

    def finish_ingestion(self, vector_store_ids: Sequence[str]) -> None:
        """Complete every in-progress file of the stores (a run waits for its thread's store)."""
        ...

    def add_output_file(self, filename: str, data: bytes) -> str:
        """Store a file code_interpreter wrote (purpose `assistants_output`); its file id."""
        ...

    def file_name(self, file_id: str) -> str | None:
        """The name of a stored file, or None for an unknown id."""
        ...


class OutputFileRefused(RuntimeError):
    """Output files need file storage, which this emulator was built without."""


class NoKnowledge:
    """No files, no stores: searches find nothing, output files are refused."""

    def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        max_num_results: int,
        score_threshold: float,
    ) -> list[SearchResult]:
        return []

    def has_files(self, vector_store_ids: Sequence[str]) -> bool:
        return False

    def expired_store(self, vector_store_ids: Sequence[str]) -> str | None:
        return None

    def touch(self, vector_store_ids: Sequence[str]) -> None:
        return None

    def finish_ingestion(self, vector_store_ids: Sequence[str]) -> None:
        return None

    def add_output_file(self, filename: str, data: bytes) -> str:
        raise OutputFileRefused(
            f"cannot store the code_interpreter output file {filename!r}: this emulator has no "
            "file storage"
        )

    def file_name(self, file_id: str) -> str | None:
        return None


NO_KNOWLEDGE: Knowledge = NoKnowledge()
