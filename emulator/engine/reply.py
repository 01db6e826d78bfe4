"""What a responder can answer for one model turn: text, tool calls, a failure, an early end.

Build replies with the functions here (`reply.text(...)`, `reply.tool_call(...)`, ...); a plain
`str` returned by a responder means `reply.text(that_string)`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
IncompleteReason = Literal["max_completion_tokens", "max_prompt_tokens"]
ERROR_CODES: tuple[ErrorCode, ...] = ("server_error", "rate_limit_exceeded", "invalid_prompt")
INCOMPLETE_REASONS: tuple[IncompleteReason, ...] = ("max_completion_tokens", "max_prompt_tokens")
ANNOTATION_TYPES = ("file_citation", "file_path")


@dataclass(frozen=True)
class Text:
    """An assistant message; `chunks` fixes how a stream splits it into deltas.

    `image_files` become `image_file` parts before the text: file ids, or names of files this
    run's code_interpreter wrote (as are the `file_id`s of annotations).
    """

    value: str
    annotations: tuple[Mapping[str, Any], ...] = ()
    chunks: tuple[str, ...] | None = None
    image_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise TypeError(f"a text reply's value is a str, not {type(self.value).__name__}")
        if self.chunks is not None and "".join(self.chunks) != self.value:
            raise ValueError("the chunks of a text reply must join to its value")
        for annotation in self.annotations:
            _check_annotation(annotation, self.value)
        if not all(isinstance(f, str) and f for f in self.image_files):
            raise ValueError(f"image_files are file ids or output file names: {self.image_files}")


def _check_annotation(annotation: Mapping[str, Any], value: str) -> None:
    """An annotation must have the shape the SDK's `Message` type validates."""
    kind = annotation.get("type") if isinstance(annotation, Mapping) else None
    if kind not in ANNOTATION_TYPES:
        raise ValueError(
            f"an annotation is a mapping with type 'file_citation' or 'file_path' (see "
            f"reply.file_citation / reply.file_path), not {annotation!r}"
        )
    target = annotation.get(kind)
    start, end = annotation.get("start_index"), annotation.get("end_index")
    if (
        not isinstance(annotation.get("text"), str)
        or not isinstance(target, Mapping)
        or not isinstance(target.get("file_id"), str)
        or not isinstance(start, int)
        or not isinstance(end, int)
        or not 0 <= start <= end <= len(value)
    ):
        raise ValueError(
            f"a {kind} annotation needs text, {kind}.file_id and start_index <= end_index "
            f"within the text, not {annotation!r}"
        )


@dataclass(frozen=True)
class ToolCall:
    """One function call; `arguments` is kept as the exact JSON string the model would send."""

    name: str
    arguments: str = "{}"
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.arguments, str):
            raise TypeError("a tool call's name and arguments are strings")
        if self.id is not None and not isinstance(self.id, str):
            raise TypeError(f"a tool call id is a str, not {type(self.id).__name__}")


@dataclass(frozen=True)
class ToolCalls:
    """One or several (parallel) function calls: the run goes to `requires_action`."""

    calls: tuple[ToolCall, ...]

    def __post_init__(self) -> None:
        for call in self.calls:
            if not isinstance(call, ToolCall):
                raise TypeError(f"tool_calls() takes reply.call(...) items, not {call!r}")


@dataclass(frozen=True)
class Failure:
    """The run fails with this `last_error`."""

    code: ErrorCode = "server_error"
    message: str = "Sorry, something went wrong."

    def __post_init__(self) -> None:
        if not isinstance(self.message, str):
            raise TypeError("a failure's message is a str")
        if self.code not in ERROR_CODES:
            raise ValueError(f"a run's last_error code is one of {ERROR_CODES}, not {self.code!r}")


@dataclass(frozen=True)
class Incomplete:
    """The run ends `incomplete`; `text`, if any, is left as an incomplete message."""

    reason: IncompleteReason = "max_completion_tokens"
    text: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in INCOMPLETE_REASONS:
            raise ValueError(
                f"incomplete_details.reason is one of {INCOMPLETE_REASONS}, not {self.reason!r}"
            )


@dataclass(frozen=True)
class FileSearch:
    """A `file_search` call over the run's vector stores; the responder is asked again after it."""

    queries: tuple[str, ...]
    id: str | None = None

    def __post_init__(self) -> None:
        if not self.queries or not all(isinstance(q, str) and q for q in self.queries):
            raise ValueError(f"file_search needs non-empty query strings, not {self.queries!r}")


@dataclass(frozen=True)
class OutputFile:
    """A file a code_interpreter call writes (purpose `assistants_output`)."""

    filename: str
    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.filename, str) or not self.filename:
            raise ValueError("an output file needs a filename")
        if not isinstance(self.data, bytes):
            raise TypeError(f"an output file's data is bytes, not {type(self.data).__name__}")


@dataclass(frozen=True)
class CodeInterpreter:
    """A `code_interpreter` call with the outputs it claims (nothing is executed).

    `logs` becomes a `logs` output, each of `images` an `image` output; `files` are written
    without being outputs (what `file_path` annotations point at). The responder is asked again.
    """

    input: str
    logs: str | None = None
    images: tuple[OutputFile, ...] = ()
    files: tuple[OutputFile, ...] = ()
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.input, str):
            raise TypeError(f"code_interpreter input is a str, not {type(self.input).__name__}")
        if self.logs is not None and not isinstance(self.logs, str):
            raise TypeError(f"code_interpreter logs are a str, not {type(self.logs).__name__}")


Reply = Text | ToolCalls | FileSearch | CodeInterpreter | Failure | Incomplete
REPLY_TYPES = (Text, ToolCalls, FileSearch, CodeInterpreter, Failure, Incomplete)
CITATION_MARKER = "\u3010{m}:{n}\u2020{name}\u3011"  # 【4:0†name】; m is opaque, fixed at 4


def _arguments(arguments: Mapping[str, Any] | str | None) -> str:
    if isinstance(arguments, str):
        return arguments
    if not arguments:  # None or an empty mapping
        return "{}"
    return json.dumps(arguments, separators=(",", ":"))


def text(
    value: str,
    *,
    annotations: Sequence[Mapping[str, Any]] = (),
    chunks: Sequence[str] | None = None,
    image_files: Sequence[str] = (),
) -> Text:
    """Reply with an assistant message. `chunks` (joining to `value`) sets the stream deltas.

    Annotations built by `file_citation` / `file_path` without indices are placed at the first
    occurrence of their `text` in `value`. `image_files` (file ids, or names of files this run's
    code_interpreter wrote) come first in the message as `image_file` parts.
    """
    placed = tuple(_place(annotation, value) for annotation in annotations)
    return Text(value, placed, tuple(chunks) if chunks is not None else None, tuple(image_files))


def _place(annotation: Mapping[str, Any], value: str) -> Mapping[str, Any]:
    if not isinstance(annotation, Mapping) or annotation.get("start_index") is not None:
        return annotation
    marker = annotation.get("text")
    start = value.find(marker) if isinstance(marker, str) and marker else -1
    if start < 0 or not isinstance(marker, str):
        raise ValueError(f"the annotation text {marker!r} does not occur in the reply {value!r}")
    return {**annotation, "start_index": start, "end_index": start + len(marker)}


def file_citation(
    text: str, file_id: str, *, start_index: int | None = None, end_index: int | None = None
) -> dict[str, Any]:
    """A `file_citation` annotation for `reply.text(..., annotations=[...])`.

    Without indices it marks the first occurrence of `text` in the reply.
    """
    return _annotation("file_citation", text, file_id, start_index, end_index)


def file_path(
    text: str, file_id: str, *, start_index: int | None = None, end_index: int | None = None
) -> dict[str, Any]:
    """A `file_path` annotation (a file the assistant generated), placed like `file_citation`."""
    return _annotation("file_path", text, file_id, start_index, end_index)


def _annotation(
    kind: str, text: str, file_id: str, start_index: int | None, end_index: int | None
) -> dict[str, Any]:
    if start_index is not None and end_index is None:
        end_index = start_index + len(text)
    return {  # the real key order
        "type": kind,
        "text": text,
        "start_index": start_index,
        "end_index": end_index,
        kind: {"file_id": file_id},
    }


def citation_marker(n: int, file_name: str) -> str:
    """The marker the model writes for result `n` of a file search: `【4:n†file_name】`."""
    return CITATION_MARKER.format(m=4, n=n, name=file_name)


def file_search(*queries: str, id: str | None = None) -> FileSearch:
    """Search the run's vector stores (the assistant's and the thread's) for `queries`.

    The run gets a `tool_calls` step with one `file_search` call; the responder is then asked
    again with the results in `RunContext.file_search_results`.
    """
    return FileSearch(tuple(queries), id)


ImageSpec = bytes | tuple[str, bytes]


def code_interpreter(
    input: str,
    *,
    logs: str | None = None,
    images: Sequence[ImageSpec] = (),
    files: Sequence[tuple[str, bytes]] = (),
    id: str | None = None,
) -> CodeInterpreter:
    """A `code_interpreter` call whose outputs are given, not computed (no code runs).

    `logs` is the call's `logs` output; each image (`bytes`, or `(filename, bytes)`) becomes an
    `assistants_output` file and an `image` output; `files` are written as files only. The
    responder is then asked again, with the call in `RunContext.code_interpreter_calls`.
    """
    made = tuple(
        OutputFile(*image) if isinstance(image, tuple) else OutputFile(f"image-{n}.png", image)
        for n, image in enumerate(images)
    )
    written = tuple(OutputFile(name, data) for name, data in files)
    return CodeInterpreter(input, logs, made, written, id)


def call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
) -> ToolCall:
    """One function call for `tool_calls(...)`; dict arguments are sent as compact JSON."""
    return ToolCall(name, _arguments(arguments), id)


def tool_call(
    name: str, arguments: Mapping[str, Any] | str | None = None, *, id: str | None = None
) -> ToolCalls:
    """Reply with a single function call."""
    return ToolCalls((call(name, arguments, id=id),))


def tool_calls(*calls: ToolCall) -> ToolCalls:
    """Reply with several function calls in one turn (parallel tool calls)."""
    if not calls:
        raise ValueError("tool_calls() needs at least one call")
    return ToolCalls(tuple(calls))


def fail(
    code: ErrorCode = "server_error", message: str = "Sorry, something went wrong."
) -> Failure:
    """Make the run fail with `last_error = {code, message}`."""
    return Failure(code, message)


def incomplete(
    reason: IncompleteReason = "max_completion_tokens", text: str | None = None
) -> Incomplete:
    """End the run `incomplete` with `incomplete_details.reason`, optionally after partial text."""
    return Incomplete(reason, text)


def from_data(data: Mapping[str, Any] | str) -> Reply:
    """A reply from plain data, as written in JSON script files.

    `"hi"` or `{"text": "hi"}`; `{"tool_call": {"name": ..., "arguments": {...}}}`;
    `{"tool_calls": [{"name": ..., "arguments": ...}, ...]}`; `{"fail": {"code", "message"}}`;
    `{"incomplete": {"reason", "text"}}`; `{"file_search": "query"}` or
    `{"file_search": {"queries": [...]}}`; `{"code_interpreter": {"input", "logs", "images":
    [{"filename", "base64"}], "files": [...]}}`.
    """
    if isinstance(data, str):
        return text(data)
    if not isinstance(data, Mapping) or len(data) != 1:
        raise ValueError(f"a scripted reply is a string or an object with one key, not {data!r}")
    ((kind, value),) = data.items()
    try:
        return _from_item(kind, value)
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed {kind!r} reply {data!r}: {error!r}") from None


def _from_item(kind: str, value: Any) -> Reply:
    if kind == "text":
        if isinstance(value, str):
            return text(value)
        return text(
            value["value"],
            annotations=value.get("annotations", ()),
            chunks=value.get("chunks"),
            image_files=value.get("image_files", ()),
        )
    if kind == "file_search":
        if isinstance(value, str):
            return file_search(value)
        return file_search(*value["queries"], id=value.get("id"))
    if kind == "code_interpreter":
        return code_interpreter(
            value["input"],
            logs=value.get("logs"),
            images=[_file_data(f) for f in value.get("images", ())],
            files=[_file_data(f) for f in value.get("files", ())],
            id=value.get("id"),
        )
    if kind == "tool_call":
        return tool_call(value["name"], value.get("arguments"), id=value.get("id"))
    if kind == "tool_calls":
        return tool_calls(*(call(c["name"], c.get("arguments"), id=c.get("id")) for c in value))
    if kind == "fail":
        return fail(**value) if isinstance(value, Mapping) else fail(value)
    if kind == "incomplete":
        return incomplete(**value) if isinstance(value, Mapping) else incomplete(value)
    raise ValueError(
        f"unknown reply kind {kind!r}; expected text, tool_call, tool_calls, file_search, "
        "code_interpreter, fail or incomplete"
    )


def _file_data(item: Mapping[str, Any]) -> tuple[str, bytes]:
    """`{"filename", "base64"}` of a scripted output file."""
    try:
        return item["filename"], base64.b64decode(item["base64"], validate=True)
    except binascii.Error as error:
        raise ValueError(f"output file {item.get('filename')!r}: bad base64 ({error})") from None
