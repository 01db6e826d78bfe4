"""What every route module shares: the `Call` a handler gets, body and query parsing with the
real service's messages and limits, and the `Stream` answer of `stream: true` requests.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from ...backend import ListQuery, Scope
from ...engine.stream import Events, FrameBatch
from ...wire import decode
from ...wire.errors import InvalidRequestError
from ...wire.objects import Obj, Page
from ...wire.validation import parse

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 100  # deeper bodies are refused before anything recurses over them
# Validated bodies kept by their bytes: the latest `CACHED_BODIES` of up to `CACHED_BODY_BYTES`.
CACHED_BODIES = 256
CACHED_BODY_BYTES = 4096
INCLUDE_FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
BodyT = TypeVar("BodyT", bound=BaseModel)


@dataclass(slots=True)
class Request:
    """A request as the pipeline sees it; `path` is relative to the API root (`/threads`).

    Nothing changes a request once made (the log keeps it as received); it is not frozen only
    because a frozen dataclass takes three times as long to build, on every request."""

    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    url: str = ""  # as the client sent it (the path when unknown)


@dataclass(slots=True)
class Call:
    """One request being handled: its parsed parts and the backend scope it acts on."""

    backend: Scope
    request: Request
    params: dict[str, str]

    def body(self, model: type[BodyT]) -> BodyT:
        """The body validated into `model` (the OpenAI-shaped 400 when it is not valid).

        A short body validated before, byte for byte, is not validated again: test suites send
        the same `assistants.create`, `threads.create` and `messages.create` bodies over and
        over, and validating a body between the SDK's calls was, in machine instructions, the
        largest single part of what the emulator adds to a workflow (`benchmarks/callgrind.py`).
        Requests that send the same bytes share the instance: bodies are frozen models.
        """
        raw = self.request.body
        if len(raw) > CACHED_BODY_BYTES or type(raw) is not bytes:
            return parse(model, _decode_json(raw))
        shared: BodyT = _validated(model, raw)  # (lru_cache drops the type)
        return shared

    def json(self) -> Any:
        """The decoded JSON body (`{}` when empty), for bodies checked by hand."""
        return _decode_json(self.request.body)

    def query(self) -> ListQuery:
        return parse_list_query(self.request.query)

    def query_value(self, name: str) -> str | None:
        for key, value in self.request.query:
            if key == name:
                return value
        return None

    def check_include(self) -> bool:
        """`include[]` accepts only the file search result content; whether it was asked for."""
        included = False
        for key, value in self.request.query:
            if key in ("include[]", "include") and value != INCLUDE_FILE_SEARCH_CONTENT:
                raise InvalidRequestError(
                    f"Invalid value: '{value}'. Supported values are: "
                    f"'{INCLUDE_FILE_SEARCH_CONTENT}'.",
                    param="include",
                    code="invalid_value",
                )
            included = included or key in ("include[]", "include")
        return included


@dataclass(frozen=True)
class Stream:
    """A `stream: true` answer: batches of (event, compact JSON) frames, each what one
    transition reported, made as the client reads them."""

    frames: Iterator[FrameBatch]


@dataclass(frozen=True)
class Binary:
    """A file download: raw bytes sent as an attachment named `filename`."""

    data: bytes
    filename: str
    content_type: str = "application/octet-stream"


Answer = Obj | Page | Stream | Binary
Handler = Callable[[Call], Answer]
Route = tuple[str, str, Handler]  # method, path regex (named groups are ids), handler


def events_for(body: BaseModel) -> Events:
    """The sink of a request that may stream (`stream: true`)."""
    return Events(active=bool(getattr(body, "stream", None)))


def run_answer(call: Call, events: Events, run: Obj) -> Obj | Stream:
    """The run as JSON or, for `stream: true`, the stream that follows it until it rests."""
    if not events.active:
        return run
    return Stream(call.backend.runs.stream(run, events))


@functools.lru_cache(maxsize=CACHED_BODIES)
def _validated(model: type[BodyT], raw: bytes) -> BodyT:
    """`raw` validated into `model`: a pure function of the two (refusals are not kept)."""
    return parse(model, _decode_json(raw))


def _decode_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequestError(
            f"Request body too large: {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.",
            code="request_too_large",
        )
    try:
        return decode.loads(raw, max_depth=MAX_JSON_DEPTH)
    except decode.TooDeep:
        raise InvalidRequestError(
            f"Invalid body: JSON nested more than {MAX_JSON_DEPTH} levels deep.",
            code="invalid_value",
        ) from None
    except decode.NotJSON:
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON. If you have trouble figuring out how to fix "
            "this, please contact us through our help center at help.openai.com.)"
        ) from None


def parse_list_query(query: Sequence[tuple[str, str]]) -> ListQuery:
    """`limit`, `order`, `after`, `before` with the real defaults and limits."""
    values = dict(query)
    limit = 20
    if "limit" in values:
        raw = values["limit"]
        if not re.fullmatch(r"-?[0-9]+", raw):  # ASCII digits only: `١٢` is not 12
            raise InvalidRequestError(
                f"Invalid type for 'limit': expected an integer, but got '{raw}' instead.",
                param="limit",
                code="invalid_type",
            )
        # Past 4,300 digits `int()` raises; any such number is out of range anyway.
        limit = int(raw) if len(raw) < 20 else (-(10**20) if raw.startswith("-") else 10**20)
        if limit < 1 or limit > 100:
            above = limit > 100
            raise InvalidRequestError(
                f"Invalid 'limit': integer {'above maximum' if above else 'below minimum'} value. "
                f"Expected a value {'<= 100' if above else '>= 1'}, but got {limit} instead.",
                param="limit",
                code="integer_above_max_value" if above else "integer_below_min_value",
            )
    order = values.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return ListQuery(
        limit=limit,
        order="asc" if order == "asc" else "desc",
        after=values.get("after") or None,
        before=values.get("before") or None,
    )
