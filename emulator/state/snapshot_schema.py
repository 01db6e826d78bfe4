"""The shape of a snapshot, checked in full before a snapshot replaces anything.

One pydantic model per section of the snapshot file (`clock`, `options`, `settings`,
`assistants`, `threads`, `owners`, `ids`, `library`); `SnapshotData` lists the sections, so a
new kind of state is one more model and one more field there. Validation is strict
(no `"1"` for 1) and runs on the JSON text, where arrays stand for tuples.

Wire objects reuse the request schemas for the parts a request sets (metadata, tool resources,
response format, tool choice, truncation strategy) and type every other field the emulator
reads, so a snapshot that loads is one every later request can render. Keys the emulator does
not know are kept as they are (`extra="allow"`): they are JSON data nobody reads. The run
engine's bookkeeping and model limits are validated through their own dataclasses.
"""

from __future__ import annotations

import base64
import binascii
import random
import struct
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from ..engine.models import ModelInfo
from ..engine.outcomes import RunState
from ..wire import requests as wire

MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z

Timestamp = Annotated[int, Field(ge=0, le=MAX_TIMESTAMP)]
Count = Annotated[int, Field(ge=0)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class _Section(BaseModel):
    """A part of the snapshot file the emulator wrote: exactly these keys."""

    model_config = ConfigDict(extra="forbid", strict=True)


class _Wire(BaseModel):
    """A wire object (or a part of one) as stored: typed fields, other keys kept as data."""

    model_config = ConfigDict(extra="allow", strict=True)


# --- wire objects ----------------------------------------------------------------------------


def _tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"~{kind}"


class StoredFunction(_Wire):
    name: str
    description: str | None = None  # absent when the client gave none (never echoed as null)
    parameters: dict[str, Any]
    strict: bool


class StoredFunctionTool(_Wire):
    type: Literal["function"]
    function: StoredFunction


class StoredRanking(_Wire):
    ranker: str
    score_threshold: Number


class StoredFileSearchOptions(_Wire):
    max_num_results: int | None = None  # absent unless the client gave it (as recorded)
    ranking_options: StoredRanking


class StoredFileSearchTool(_Wire):
    type: Literal["file_search"]
    file_search: StoredFileSearchOptions


class StoredCodeInterpreterTool(_Wire):
    type: Literal["code_interpreter"]


StoredTool = Annotated[
    Annotated[StoredFunctionTool, Tag("~function")]
    | Annotated[StoredFileSearchTool, Tag("~file_search")]
    | Annotated[StoredCodeInterpreterTool, Tag("~code_interpreter")],
    Discriminator(_tag),
]


class Assistant(_Wire):
    id: str
    object: Literal["assistant"]
    created_at: Timestamp
    name: str | None
    description: str | None
    model: str
    instructions: str | None
    tools: list[StoredTool]
    top_p: Number | None
    temperature: Number | None
    reasoning_effort: str | None
    tool_resources: wire.ToolResources
    metadata: wire.Metadata
    response_format: wire.ResponseFormat


class Thread(_Wire):
    id: str
    object: Literal["thread"]
    created_at: Timestamp
    metadata: wire.Metadata
    tool_resources: wire.ToolResources


class TextValue(_Wire):
    value: str
    annotations: list[dict[str, Any]]


class StoredText(_Wire):
    type: Literal["text"]
    text: TextValue


class StoredImageFile(_Wire):
    type: Literal["image_file"]
    image_file: wire.ImageFile


class StoredImageURL(_Wire):
    type: Literal["image_url"]
    image_url: wire.ImageURL


StoredContent = Annotated[
    Annotated[StoredText, Tag("~text")]
    | Annotated[StoredImageFile, Tag("~image_file")]
    | Annotated[StoredImageURL, Tag("~image_url")],
    Discriminator(_tag),
]


class Reason(_Wire):
    reason: str


class Message(_Wire):
    id: str
    object: Literal["thread.message"]
    created_at: Timestamp
    assistant_id: str | None
    thread_id: str
    run_id: str | None
    status: Literal["in_progress", "incomplete", "completed"]
    incomplete_details: Reason | None
    incomplete_at: Timestamp | None
    completed_at: Timestamp | None
    role: Literal["user", "assistant"]
    content: list[StoredContent]
    attachments: list[wire.Attachment]
    metadata: wire.Metadata


class FunctionCall(_Wire):
    name: str
    arguments: str


class RequiredCall(_Wire):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ToolCalls(_Wire):
    tool_calls: list[RequiredCall]


class RequiredAction(_Wire):
    type: Literal["submit_tool_outputs"]
    submit_tool_outputs: ToolCalls


class LastError(_Wire):
    code: str
    message: str


class Usage(_Wire):
    prompt_tokens: Count
    completion_tokens: Count
    total_tokens: Count


RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]


class Run(_Wire):
    id: str
    object: Literal["thread.run"]
    created_at: Timestamp
    assistant_id: str
    thread_id: str
    status: RunStatus
    started_at: Timestamp | None
    expires_at: Timestamp | None
    cancelled_at: Timestamp | None
    failed_at: Timestamp | None
    completed_at: Timestamp | None
    required_action: RequiredAction | None
    last_error: LastError | None
    model: str
    instructions: str
    tools: list[StoredTool]
    tool_resources: wire.ToolResources
    metadata: wire.Metadata
    temperature: Number | None
    top_p: Number | None
    reasoning_effort: str | None
    max_completion_tokens: int | None
    max_prompt_tokens: int | None
    truncation_strategy: wire.TruncationStrategy
    incomplete_details: Reason | None
    usage: Usage | None
    response_format: wire.ResponseFormat
    tool_choice: wire.ToolChoice
    parallel_tool_calls: bool


class CalledFunction(_Wire):
    name: str
    arguments: str
    output: str | None


class FunctionToolCall(_Wire):
    id: str
    type: Literal["function"]
    function: CalledFunction


class OtherToolCall(_Wire):
    """A built-in tool's call (file search, code interpreter): its own fields are data."""

    id: str
    type: Literal["file_search", "code_interpreter"]


StepToolCall = Annotated[
    Annotated[FunctionToolCall, Tag("~function")]
    | Annotated[OtherToolCall, Tag("~file_search")]
    | Annotated[OtherToolCall, Tag("~code_interpreter")],
    Discriminator(_tag),
]


class MessageId(_Wire):
    message_id: str


class MessageCreation(_Wire):
    type: Literal["message_creation"]
    message_creation: MessageId


class StepToolCalls(_Wire):
    type: Literal["tool_calls"]
    tool_calls: list[StepToolCall]


StepDetails = Annotated[
    Annotated[MessageCreation, Tag("~message_creation")]
    | Annotated[StepToolCalls, Tag("~tool_calls")],
    Discriminator(_tag),
]


class Step(_Wire):
    id: str
    object: Literal["thread.run.step"]
    created_at: Timestamp
    run_id: str
    assistant_id: str
    thread_id: str
    type: Literal["message_creation", "tool_calls"]
    status: Literal["in_progress", "cancelled", "failed", "completed", "expired"]
    cancelled_at: Timestamp | None
    completed_at: Timestamp | None
    expires_at: Timestamp | None
    failed_at: Timestamp | None
    last_error: LastError | None
    step_details: StepDetails
    usage: Usage | None
    metadata: wire.Metadata


# --- sections --------------------------------------------------------------------------------


class RunEntry(_Section):
    run: Run
    steps: list[Step]
    state: RunState | None = None  # the engine's bookkeeping, validated by its dataclass


class ThreadEntry(_Section):
    thread: Thread
    messages: list[Message]
    runs: list[RunEntry]


class Clock(_Section):
    now: Timestamp


class Options(_Section):
    require_key: str | None
    isolate_keys: bool
    poll_after_ms: Annotated[int, Field(ge=0)] | None


class SavedSettings(_Section):
    progress: Literal["resting", "step"]
    holds: list[tuple[str | None, Literal["queued", "in_progress"] | None]]
    models: list[ModelInfo]
    default_model: ModelInfo


class RandomState(_Section):
    """A `random.Random` state: version, 625 words packed as base64, gauss."""

    version: int
    words: str
    gauss: Number | None

    @field_validator("words")
    @classmethod
    def _words(cls, words: str) -> str:
        try:
            packed = base64.b64decode(words, validate=True)
            state = struct.unpack(f"<{len(packed) // 4}I", packed)
            random.Random().setstate((3, state, None))
        except (binascii.Error, struct.error, ValueError, TypeError) as error:
            raise ValueError(f"not a random generator state ({error})") from None
        return words


class Ids(_Section):
    seed: int | str
    objects: RandomState
    requests: RandomState


# --- files and vector stores ------------------------------------------------------------------


class StoredFile(_Wire):
    id: str
    object: Literal["file"]
    purpose: str
    filename: str
    bytes: Count
    created_at: Timestamp
    expires_at: Timestamp | None
    status: str


class FileEntry(_Section):
    file: StoredFile
    data: str  # base64 of the file's bytes

    @field_validator("data")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"not base64: {error}") from None
        return value


class StoredVectorStore(_Wire):
    """The stored fields of a store (counts, status and expiry are derived when read)."""

    id: str
    created_at: Timestamp
    name: str | None
    description: str | None
    expires_after: dict[str, Any] | None
    last_active_at: Timestamp
    metadata: wire.Metadata


class StoredVectorStoreFile(_Wire):
    id: str
    object: Literal["vector_store.file"]
    created_at: Timestamp
    vector_store_id: str
    status: Literal["in_progress", "completed", "failed", "cancelled"]
    chunking_strategy: dict[str, Any]
    attributes: dict[str, str | Number | bool] | None


class BatchEntry(_Section):
    id: str
    created_at: Timestamp
    file_ids: list[str]
    cancelled: bool


class VectorStoreEntry(_Section):
    store: StoredVectorStore
    files: list[StoredVectorStoreFile]
    batches: list[BatchEntry]


class Library(_Section):
    """Files (bytes as base64) and vector stores; indexes are rebuilt by ingesting again."""

    files: list[FileEntry]
    vector_stores: list[VectorStoreEntry]


class SnapshotData(_Section):
    """A whole snapshot: one field per section."""

    format: Literal["assistants-emulator/snapshot"]
    version: Literal[1]
    clock: Clock
    options: Options
    settings: SavedSettings
    assistants: list[Assistant]
    threads: list[ThreadEntry]
    owners: dict[str, str]
    ids: Ids
    library: Library | None = None  # written only when there are files or stores


__all__ = ["MAX_TIMESTAMP", "SnapshotData"]
