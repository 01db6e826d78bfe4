"""What the two HTTP-library adapters share: handing a request to the emulator that owns it,
turning injected network faults into the library's own exceptions, and lazy SSE bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from ..http.faults import ConnectionDropped, RequestTimedOut
from ..http.pipeline import RequestHandler, Response


def answer(handler: RequestHandler, request: Any, body: bytes, library: Any) -> Response:
    """Hand the request to the emulator; injected network faults raise the library's errors."""
    try:
        # `.items()` once (`dict(headers)` would rescan them for every name), lower-cased
        headers = request.headers.items()
        url = str(request.url)
        return handler.handle(handler.request(request.method, url, headers, body, lowered=True))
    except ConnectionDropped:
        raise library.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        ) from None
    except RequestTimedOut:
        raise library.ReadTimeout("The read operation timed out", request=request) from None


def library_response(response: Response, library: Any, frames: type[Frames]) -> Any:
    """The answer as the HTTP library's own `Response`; an SSE body is read lazily."""
    if response.events is not None:
        stream = frames(response.events)
        return library.Response(response.status, headers=response.headers, stream=stream)
    return library.Response(response.status, headers=response.headers, content=response.body)


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
