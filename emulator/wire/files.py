"""Wire shapes of the Files and Vector Stores APIs, in the recorded key order, and their errors.

Key orders and values follow files-vector-stores.md: files §2.3 (2025-09 … 2026-05), file lists
§2.4 (`object, data, has_more, first_id, last_id`), vector stores §3.3, vector store files §4.1,
batches §5.1. Two documented deviations make every object parse with the SDK's own types
(§11, README "Fidelity"): a store without a name reads `""` (recorded: `null`), and a batch's
`object` is `vector_store.files_batch` (recorded: `vector_store.file_batch`).
"""

from __future__ import annotations

from typing import Any

from .errors import APIError, InvalidRequestError, NotFoundError
from .objects import Obj

FILE_PURPOSES = ("fine-tune", "assistants", "batch", "user_data", "vision", "evals")
"""Purposes an upload may carry, in the order the real 400 lists them."""

BATCH_OBJECT = "vector_store.files_batch"  # recorded "vector_store.file_batch" fails the SDK


def file_object(
    file_id: str,
    *,
    purpose: str,
    filename: str,
    size: int,
    created_at: int,
    expires_at: int | None,
) -> Obj:
    """A file as the service answers it: always `processed`, `status_details: null`."""
    return {
        "object": "file",
        "id": file_id,
        "purpose": purpose,
        "filename": filename,
        "bytes": size,
        "created_at": created_at,
        "expires_at": expires_at,
        "status": "processed",
        "status_details": None,
    }


def file_list(data: list[Obj], has_more: bool) -> Obj:
    """`GET /files`: the list envelope in the files API's own order (§2.4)."""
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def file_deleted(file_id: str) -> Obj:
    return {"object": "file", "deleted": True, "id": file_id}


def file_counts(statuses: list[str]) -> Obj:
    counts = {name: statuses.count(name) for name in ("in_progress", "completed", "failed")}
    counts["cancelled"] = statuses.count("cancelled")
    counts["total"] = len(statuses)
    return counts


def vector_store(
    store_id: str,
    *,
    created_at: int,
    name: str | None,
    description: str | None,
    usage_bytes: int,
    counts: Obj,
    status: str,
    expires_after: Obj | None,
    expires_at: int | None,
    last_active_at: int,
    metadata: Obj,
) -> Obj:
    return {
        "id": store_id,
        "object": "vector_store",
        "created_at": created_at,
        "name": name if name is not None else "",
        "description": description,
        "usage_bytes": usage_bytes,
        "file_counts": counts,
        "status": status,
        "expires_after": expires_after,
        "expires_at": expires_at,
        "last_active_at": last_active_at,
        "metadata": metadata,
    }


def vector_store_file(
    file_id: str,
    *,
    usage_bytes: int,
    created_at: int,
    vector_store_id: str,
    status: str,
    last_error: Obj | None,
    chunking_strategy: Obj,
    attributes: Obj,
) -> Obj:
    return {
        "id": file_id,
        "object": "vector_store.file",
        "usage_bytes": usage_bytes,
        "created_at": created_at,
        "vector_store_id": vector_store_id,
        "status": status,
        "last_error": last_error,
        "chunking_strategy": chunking_strategy,
        "attributes": attributes,
    }


def file_batch(
    batch_id: str, *, created_at: int, status: str, vector_store_id: str, counts: Obj
) -> Obj:
    return {
        "id": batch_id,
        "object": BATCH_OBJECT,
        "created_at": created_at,
        "status": status,
        "vector_store_id": vector_store_id,
        "file_counts": counts,
    }


def deleted(object_id: str, kind: str) -> Obj:
    """`vector_store.deleted` and `vector_store.file.deleted`: `id, object, deleted`."""
    return {"id": object_id, "object": kind, "deleted": True}


def file_content_page(pages: list[str]) -> Obj:
    """`GET /vector_stores/{vs}/files/{id}/content`: the extracted text, one item per page."""
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": text} for text in pages],
        "has_more": False,
        "next_page": None,
    }


# --- errors ----------------------------------------------------------------------------------


class FilesAPIError(APIError):
    """An error of `/files`: the envelope plus the top-level `detail` the service added there
    (recorded 2026-05 for 404 and 400, files-vector-stores.md §1)."""

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["detail"] = {"message": self.message, "code": None}
        return body


def no_such_file(file_id: str) -> FilesAPIError:
    """The recorded 404 of `/files/{id}` for an unknown, deleted or expired file."""
    return FilesAPIError(f"No such File object: {file_id}", param="id", status=404)


def bad_purpose(purpose: str) -> FilesAPIError:
    listed = ", ".join(f"'{name}'" for name in FILE_PURPOSES)
    return FilesAPIError(f"'{purpose}' is not one of [{listed}] - 'purpose'", param="purpose")


def files_not_found(file_ids: list[str]) -> NotFoundError:
    """Unknown file ids given to a vector store or `tool_resources` (Azure's recorded form)."""
    return NotFoundError(f"Files [{', '.join(file_ids)}] were not found")


def no_vector_store(store_id: str) -> NotFoundError:
    return NotFoundError(f"No vector store found with id '{store_id}'.")


def no_store_file(file_id: str, store_id: str) -> NotFoundError:
    return NotFoundError(f"No file found with id '{file_id}' in vector store '{store_id}'.")


def no_batch(batch_id: str, store_id: str) -> NotFoundError:
    return NotFoundError(f"No file batch found with id '{batch_id}' in vector store '{store_id}'.")


def store_expired(store_id: str) -> InvalidRequestError:
    """A store call on an expired store (only the prefix was ever quoted, §9.4)."""
    return InvalidRequestError(f"Vector store '{store_id}' has expired.")
