"""A small Chat Completions client for forwarded turns, on a transport the emulator never patches.

While an `Emulator` is started, respx patches `httpx.Client` (its transport lookup) and the
emulator patches httpx2's default transports (see `emulator.transports`). Requests here go
straight to an `httpx.HTTPTransport` instance, below the patched client and outside httpx2, so
they reach the upstream even when its URL is one of the emulator's base URLs.

Every failure becomes an `UpstreamError` with the Assistants `last_error` code it maps to and a
message naming the upstream; the API key never appears in one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

DETAIL_CHARS = 200  # of an upstream error body quoted in a message


class UpstreamError(Exception):
    """The upstream could not give a completion; `code` is the run's `last_error.code`."""

    def __init__(self, code: Literal["server_error", "rate_limit_exceeded"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UpstreamCall:
    """One function call the model made; `id` is None when the upstream gave none."""

    id: str | None
    name: str
    arguments: str


@dataclass(frozen=True)
class Completion:
    """What the model answered for one turn, in Chat Completions terms."""

    text: str | None
    calls: tuple[UpstreamCall, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply's text, as the upstream streamed it; `annotations` are the
    `file_citation`s of markers in it (placed by `excerpts.Citations`, offsets in the whole
    reply)."""

    text: str
    annotations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class CallDelta:
    """A piece of tool call `index`: its id and name when first seen, then argument pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Finish:
    """The end of the choice, with the upstream's `finish_reason` (`stop`, `length`, ...)."""

    reason: str


Delta = TextDelta | CallDelta | Finish


class Upstream:
    """`POST {base_url}/chat/completions`, whole or streamed; thread-safe (a connection pool)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.shown_url = _without_userinfo(self.url)
        self.timeout = timeout
        self._key = api_key or None
        headers = {"content-type": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._extensions = {"timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)).as_dict()}
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def __repr__(self) -> str:
        return f"Upstream({self.shown_url!r})"

    def close(self) -> None:
        self._transport.close()

    def complete(self, body: Mapping[str, Any]) -> Completion:
        """Send one request and read the whole completion."""
        response = self._send(body, stream=False)
        try:
            content = response.read()
        except httpx.HTTPError as error:
            raise self._transport_error(error) from None
        finally:
            response.close()
        return _completion(self._decode(content), self.shown_url)

    def stream(self, body: Mapping[str, Any]) -> Iterator[Delta]:
        """Send with `stream: true` and yield text and tool-call deltas as they arrive, then a
        `Finish`; `assemble` adds them up to the `Completion` the same request gives unstreamed.
        """
        response = self._send({**body, "stream": True}, stream=True)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, `event:` lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    deltas = list(_chunk_deltas(self._decode(data.encode()), self.shown_url))
                except UpstreamError as error:
                    raise UpstreamError(error.code, self.redact(error.message)) from None
                yield from deltas
        except httpx.HTTPError as error:
            raise self._transport_error(error) from None
        finally:
            response.close()

    def _send(self, body: Mapping[str, Any], *, stream: bool) -> httpx.Response:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        request = httpx.Request(
            "POST", self.url, headers=self._headers, content=content, extensions=self._extensions
        )
        try:
            response = self._transport.handle_request(request)
        except httpx.HTTPError as error:
            raise self._transport_error(error) from None
        if response.status_code < 300:
            return response
        try:
            detail = response.read().decode("utf-8", "replace")
        except httpx.HTTPError:
            detail = ""
        finally:
            response.close()
        raise self._status_error(response.status_code, detail)

    def _decode(self, content: bytes) -> Any:
        try:
            return json.loads(content)
        except ValueError:
            raise UpstreamError(
                "server_error",
                f"The model server at {self.shown_url} answered with malformed JSON: "
                f"{self.redact(content.decode('utf-8', 'replace'))[:DETAIL_CHARS]!r}",
            ) from None

    def _status_error(self, status: int, detail: str) -> UpstreamError:
        text = self.redact(_error_message(detail))[:DETAIL_CHARS]
        if status == 429:
            return UpstreamError(
                "rate_limit_exceeded",
                f"The model server at {self.shown_url} is rate limiting requests (HTTP 429): "
                f"{text}",
            )
        return UpstreamError(
            "server_error", f"The model server at {self.shown_url} answered HTTP {status}: {text}"
        )

    def _transport_error(self, error: httpx.HTTPError) -> UpstreamError:
        if isinstance(error, httpx.TimeoutException):
            message = (
                f"The model server at {self.shown_url} did not answer within {self.timeout:g} s."
            )
        elif isinstance(error, httpx.ConnectError):
            message = f"Could not connect to the model server at {self.shown_url}: {error}"
        else:
            message = f"The connection to the model server at {self.shown_url} failed: {error}"
        return UpstreamError("server_error", self.redact(message))

    def redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def assemble(deltas: Iterable[Delta]) -> Completion:
    """The completion a stream of deltas adds up to (tool calls in index order)."""
    text: list[str] = []
    calls: dict[int, tuple[list[str | None], list[str]]] = {}  # index -> ([id, name], pieces)
    finish_reason = None
    for delta in deltas:
        if isinstance(delta, TextDelta):
            text.append(delta.text)
        elif isinstance(delta, Finish):
            finish_reason = delta.reason
        else:
            head, pieces = calls.setdefault(delta.index, ([None, None], []))
            head[0] = head[0] or delta.id
            head[1] = head[1] or delta.name
            pieces.append(delta.arguments)
    return Completion(
        "".join(text) if text else None,
        tuple(
            UpstreamCall(head[0], head[1] or "", "".join(pieces))
            for _, (head, pieces) in sorted(calls.items())
        ),
        finish_reason,
    )


def _chunk_deltas(chunk: Any, where: str) -> Iterator[Delta]:
    """The deltas of one `chat.completion.chunk` (usage-only chunks have no choices)."""
    if isinstance(chunk, dict) and chunk.get("error"):
        detail = _error_message(json.dumps(chunk))[:DETAIL_CHARS]
        raise UpstreamError(
            "server_error",
            f"The model server at {where} reported an error while streaming: {detail}",
        )
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list):
        raise _malformed(where, "a stream chunk without choices")
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            raise _malformed(where, "a stream choice without delta")
        if isinstance(delta.get("content"), str) and delta["content"]:
            yield TextDelta(delta["content"])
        for call in delta.get("tool_calls") or []:
            function = (call.get("function") or {}) if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(call.get("index", 0), int):
                raise _malformed(where, "a malformed tool call delta")
            yield CallDelta(
                call.get("index", 0),
                call.get("id") or None,
                function.get("name") or None,
                _arguments(function.get("arguments")),
            )
        if choice.get("finish_reason"):
            yield Finish(str(choice["finish_reason"]))


def _completion(data: Any, where: str) -> Completion:
    """A `chat.completion` body read defensively: the first choice's message."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _malformed(where, "no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _malformed(where, "a choice without message")
    calls: list[UpstreamCall] = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _malformed(where, "a tool call without a function name")
        calls.append(
            UpstreamCall(
                call.get("id") if isinstance(call.get("id"), str) else None,
                function["name"],
                _arguments(function.get("arguments")),
            )
        )
    reason = choices[0].get("finish_reason")
    return Completion(
        _content(message.get("content")), tuple(calls), reason if isinstance(reason, str) else None
    )


def _content(content: Any) -> str | None:
    """Message content: a string, or (some servers) a list of text parts."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else None


def _arguments(arguments: Any) -> str:
    """Arguments as the JSON string the Assistants API shows (some servers send an object)."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, separators=(",", ":"))


def _malformed(where: str, what: str) -> UpstreamError:
    return UpstreamError(
        "server_error", f"The model server at {where} answered with a malformed completion: {what}."
    )


def _error_message(detail: str) -> str:
    """The message of an error body (`{"error": {"message"}}`, `{"detail"}`), else the text."""
    try:
        data = json.loads(detail)
    except ValueError:
        return detail.strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for key in ("error", "detail", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return detail.strip()


def _without_userinfo(url: str) -> str:
    """The URL as shown in messages: credentials in it (`user:pass@`) are left out."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
