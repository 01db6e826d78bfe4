"""A request's headers as the pipeline reads them: `RawHeaders` decodes only what is read, and
reads what `Headers.items()` gives."""

from __future__ import annotations

import gc
from typing import Any

import httpx
import httpx2
import pytest

from emulator import Emulator
from emulator.http.headers import RawHeaders

CASES = {
    "ascii": [("Authorization", "Bearer sk-1"), ("Content-Type", "application/json")],
    "repeated": [("X-Tag", "a"), ("x-tag", "b"), ("Accept", "*/*")],
    "utf-8": [("X-Name", "Zürich".encode().decode("latin-1")), ("Authorization", "Bearer k")],
    "latin-1": [("X-Bytes", "\xff\xfe"), ("X-Other", "plain")],
    "nul": [("X-Nul", "a\x00b"), ("Authorization", "Bearer k")],  # kept otherwise
    "nul-name": [("X\x00authorization", "v"), ("Accept", "*/*")],  # no false match
    "newline": [("X-Multi", "a\nb"), ("Accept", "*/*")],  # logged unjoined
    "none": [],
}


@pytest.mark.parametrize("made_from", ["raw pairs", "library headers"])
@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize("pairs", CASES.values(), ids=CASES.keys())
def test_raw_headers_read_as_the_library_decodes_them(
    library: Any, pairs: list[tuple[str, str]], made_from: str
) -> None:
    received = library.Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs])
    expected = dict(received.items())
    headers = RawHeaders(received.raw) if made_from == "raw pairs" else RawHeaders.of(received)

    for name in [*expected, "missing"]:
        assert headers.get(name) == expected.get(name)
    assert dict(headers) == expected
    assert len(headers) == len(expected) and set(headers) == set(expected)
    with pytest.raises(KeyError):
        headers["missing"]
    assert dict(RawHeaders.unpack(headers.packed())) == expected  # as the request log keeps them


def test_the_request_log_keeps_every_header_the_sdk_sent() -> None:
    with Emulator() as emu, httpx2.Client() as http:
        http.get(
            "https://api.openai.com/v1/models",
            headers={"Authorization": "Bearer sk-1", "X-Trace": "a", "x-trace": "b"},
        )
    (logged,) = emu.requests
    assert logged.headers["authorization"] == "Bearer sk-1"
    assert logged.headers["x-trace"] == "a, b"
    assert logged.headers["host"] == "api.openai.com"


def test_headers_without_the_library_s_own_list_are_read_from_their_raw_pairs() -> None:
    class Plain:  # an HTTP library without httpx's internal (raw, lower, value) list
        raw = ((b"Authorization", b"Bearer sk-1"), (b"X-Tag", b"a"), (b"x-tag", b"b"))

    headers = RawHeaders.of(Plain())
    assert headers.get("authorization") == "Bearer sk-1"
    assert dict(headers) == {"authorization": "Bearer sk-1", "x-tag": "a, b"}


def test_the_request_log_keeps_plain_data_the_garbage_collector_stops_following() -> None:
    with Emulator() as emu, httpx2.Client() as http:
        http.get("https://api.openai.com/v1/models?limit=2", headers={"Authorization": "Bearer k"})
    for _ in range(3):  # a tuple is let go once the tuples in it are (the query's, two deep)
        gc.collect()
    (entry,) = emu.pipeline._requests
    assert not gc.is_tracked(entry)  # nor does it hold the library's own header objects
    (logged,) = emu.requests
    assert logged.query == [("limit", "2")] and logged.headers["authorization"] == "Bearer k"
