"""Request bodies of the Vector Stores API (files-vector-stores.md §3-§5), `additionalProperties:
false` like every body. `chunking_strategy` and `attributes` stay raw here: their recursive,
conditional rules are `retrieval.parse_chunking_strategy` and `retrieval.validate_attributes`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .requests import Metadata, _Body

MAX_STORE_FILES = 500  # `file_ids` on store creation
MAX_BATCH_FILES = 2000


class ExpiresAfter(_Body):
    anchor: Literal["last_active_at"]
    days: Annotated[int, Field(ge=1, le=365)]


class CreateVectorStore(_Body):
    file_ids: Annotated[list[str], Field(default_factory=list, max_length=MAX_STORE_FILES)]
    name: str | None = None
    description: str | None = None
    expires_after: ExpiresAfter | None = None
    chunking_strategy: Any = None
    metadata: Metadata = None


class ModifyVectorStore(_Body):
    name: str | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class CreateVectorStoreFile(_Body):
    file_id: str
    attributes: Any = None
    chunking_strategy: Any = None


class UpdateVectorStoreFile(_Body):
    attributes: Any  # required; null clears them


class BatchFile(_Body):
    file_id: str
    attributes: Any = None
    chunking_strategy: Any = None


class CreateFileBatch(_Body):
    file_ids: Annotated[list[str], Field(min_length=1, max_length=MAX_BATCH_FILES)] | None = None
    files: Annotated[list[BatchFile], Field(min_length=1, max_length=MAX_BATCH_FILES)] | None = None
    attributes: Any = None
    chunking_strategy: Any = None
