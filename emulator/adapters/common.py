"""What the HTTP-library adapters share: handing a request to the emulator that owns it,
turning injected network faults into the library's own exceptions, and the answer as the
library's own `Response` (SSE bodies read lazily)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import httpx2

from ..http.faults import ConnectionDropped, RequestTimedOut
from ..http.headers import RawHeaders
from ..http.pipeline import RequestHandler, Response


def answer(handler: RequestHandler, request: Any, url: str, body: bytes, library: Any) -> Response:
    """Hand the request for `url` to the emulator; injected network faults raise the library's
    errors."""
    try:
        headers = RawHeaders.of(request.headers)  # decoded only as far as they are read
        return handler.handle(handler.request(request.method, url, headers, body, lowered=True))
    except ConnectionDropped:
        raise library.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from None
    except RequestTimedOut:
        raise library.ReadTimeout("The read operation timed out", request=request) from None


class Frames:
    """An SSE body read lazily, for sync and async clients alike: each read advances the run."""

    def __init__(self, frames: Iterable[bytes]) -> None:
        self._frames = iter(frames)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._frames

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame

    def close(self) -> None:
        close = getattr(self._frames, "close", None)
        if close is not None:
            close()

    async def aclose(self) -> None:
        self.close()


class _HttpxFrames(Frames, httpx.SyncByteStream, httpx.AsyncByteStream):
    pass


class _Httpx2Frames(Frames, httpx2.SyncByteStream, httpx2.AsyncByteStream):
    pass


def httpx_response(response: Response) -> httpx.Response:
    """The answer as an `httpx.Response`."""
    answer: httpx.Response = _library_response(httpx, _HttpxFrames, response)
    return answer


def httpx2_response(response: Response) -> httpx2.Response:
    """The answer as an `httpx2.Response`."""
    answer: httpx2.Response = _library_response(httpx2, _Httpx2Frames, response)
    return answer


def _library_response(library: Any, frames: type[Frames], response: Response) -> Any:
    """The answer as `library.Response`: an SSE body read lazily through `frames`; a whole body
    as `Response(content=...)` leaves it: `Content-Length` set, the body read (`_content`), the
    stream consumed and closed. `content=` gets there by reading the body through the library's
    decoders (about 13 us a request, more than the pipeline spends on a simple one) for a body
    that is not encoded. tests/test_interception.py checks the two agree for both libraries."""
    body, events = response.body, response.events
    if events is None:
        response.headers["content-length"] = str(len(body))
    headers = _library_headers(library, response.headers)
    if events is not None:
        return library.Response(response.status, headers=headers, stream=frames(events))
    answer = library.Response(response.status, headers=headers, stream=library.ByteStream(body))
    answer._content = body
    answer.is_stream_consumed = answer.is_closed = True
    # as a network response has it; (days, seconds) by position: keywords cost a slower parser
    answer.elapsed = timedelta(0, response.elapsed)
    return answer


def _library_headers(library: Any, headers: dict[str, str]) -> Any:
    """`library.Headers(headers)` made directly: the library's own constructor checks the type
    of every name and value, a function call each, which doubled the cost of building a
    response. Its layout is the one `RawHeaders.of` reads: (name, lower-case name, value)
    bytes. ASCII, as the library encodes by default (a non-ASCII value raises either way)."""
    made = library.Headers.__new__(library.Headers)
    triples = []
    for name, value in headers.items():
        raw = name.encode("ascii")
        triples.append((raw, raw.lower(), value.encode("ascii")))
    made._list = triples
    made._encoding = None
    return made
