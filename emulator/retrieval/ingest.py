"""Ingestion: a file's bytes to searchable chunks, per ``chunking_strategy``.

``auto`` is 800-token chunks with 400 tokens of overlap; ``static`` takes
``max_chunk_size_tokens`` 100..4096 and ``chunk_overlap_tokens`` 0..half of it
(files-vector-stores.md §6). The service never named its tokenizer; the emulator uses
``cl100k_base``, the encoding of the embedding model the guide names, from the bundled rank files.

Windows of ``S`` tokens start every ``S - O`` tokens, the last one shorter. Each chunk's text is
the slice of the file's text its tokens cover; where a window edge falls inside a multi-byte
character the edge moves back to that character's start, so no text is lost or garbled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.tokens import load_encoding
from . import _validate as v
from .extract import FILE_TOO_LARGE_MESSAGE, ExtractionError, extract_pages

__all__ = [
    "AUTO_CHUNKING",
    "CHUNKING_ENCODING",
    "MAX_FILE_TOKENS",
    "Chunk",
    "ChunkingStrategy",
    "Document",
    "chunk",
    "ingest",
    "parse_chunking_strategy",
]

CHUNKING_ENCODING = "cl100k_base"
MAX_FILE_TOKENS = 5_000_000
"""Tokens a file may hold (File Search guide; the spec says 2,000,000 for Assistants files)."""

_MIN_CHUNK, _MAX_CHUNK = 100, 4096


@dataclass(frozen=True, slots=True)
class ChunkingStrategy:
    """Token windows: ``max_chunk_size_tokens`` long, ``chunk_overlap_tokens`` shared."""

    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    def to_wire(self) -> dict[str, Any]:
        """As vector store files report it: always ``static``, ``auto`` included (§4.1)."""
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


AUTO_CHUNKING = ChunkingStrategy()
"""What ``{"type": "auto"}`` (and no strategy at all) means: 800 tokens, 400 overlap."""


def parse_chunking_strategy(value: Any, *, param: str = "chunking_strategy") -> ChunkingStrategy:
    """Validate a ``chunking_strategy`` JSON value; ``None`` (absent) is ``auto``.

    The real texts for static violations are unknown; these are the validator's generic ones,
    the overlap rule worded as an upper bound on ``chunk_overlap_tokens``.
    """
    if value is None:
        return AUTO_CHUNKING
    if not isinstance(value, dict):
        raise v.invalid_type(param, "an object", value)
    if "type" not in value:
        raise v.missing(v.join(param, "type"))
    kind = value["type"]
    if kind == "auto":
        v.check_keys(value, param, allowed=("type",))
        return AUTO_CHUNKING
    if kind != "static":
        if not isinstance(kind, str):
            raise v.invalid_type(v.join(param, "type"), "a string", kind)
        raise v.invalid_value(v.join(param, "type"), kind, ("auto", "static"))
    v.check_keys(value, param, allowed=("type", "static"), required=("static",))
    static, where = value["static"], v.join(param, "static")
    if not isinstance(static, dict):
        raise v.invalid_type(where, "an object", static)
    names = ("max_chunk_size_tokens", "chunk_overlap_tokens")
    v.check_keys(static, where, allowed=names, required=names)
    size_param, overlap_param = (v.join(where, name) for name in names)
    size = v.integer(static["max_chunk_size_tokens"], size_param)
    overlap = v.integer(static["chunk_overlap_tokens"], overlap_param)
    error = (
        v.out_of_range(size_param, size, minimum=_MIN_CHUNK, maximum=_MAX_CHUNK)
        or v.out_of_range(overlap_param, overlap, minimum=0)
        or v.out_of_range(
            overlap_param, overlap, maximum=size // 2, note=" (half of max_chunk_size_tokens)"
        )
    )
    if error is not None:
        raise error
    return ChunkingStrategy(size, overlap)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One window of a file: its position, its text and how many tokens it spans."""

    index: int
    text: str
    tokens: int


def chunk(
    text: str, strategy: ChunkingStrategy = AUTO_CHUNKING, *, encoding: str = CHUNKING_ENCODING
) -> list[Chunk]:
    """Cut ``text`` into overlapping token windows (see the module docstring).

    ``tokens`` is the window's length in tokens: ``max_chunk_size_tokens`` for all but the last.
    Costs one tiktoken encode plus one decode of the token ids, whatever the overlap.
    """
    ids = load_encoding(encoding).encode_ordinary(text)
    return _windows(text, ids, strategy, encoding)


def _windows(
    text: str, ids: Sequence[int], strategy: ChunkingStrategy, encoding: str
) -> list[Chunk]:
    size = strategy.max_chunk_size_tokens
    step = size - strategy.chunk_overlap_tokens
    count = len(ids)
    if count == 0:
        return []
    starts = list(range(0, max(count - strategy.chunk_overlap_tokens, 1), step))
    ends = [min(start + size, count) for start in starts]
    # Byte offset of every window edge: decode the ids between consecutive edges once each.
    edges = sorted({*starts, *ends})
    decode = load_encoding(encoding).decode_bytes
    offsets: dict[int, int] = {}
    position = previous = 0
    for edge in edges:
        position += len(decode(ids[previous:edge]))
        offsets[edge] = position
        previous = edge
    data = text.encode("utf-8")
    chunks: list[Chunk] = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        low, high = _char_start(data, offsets[start]), _char_start(data, offsets[end])
        chunks.append(Chunk(index, data[low:high].decode("utf-8"), end - start))
    return chunks


def _char_start(data: bytes, offset: int) -> int:
    """``offset`` moved back to the first byte of the UTF-8 character it falls in."""
    while 0 < offset < len(data) and data[offset] & 0xC0 == 0x80:
        offset -= 1
    return offset


@dataclass(frozen=True, slots=True)
class Document:
    """An ingested file: its text by page, its chunks and the bytes it counts in a store."""

    pages: tuple[str, ...]
    chunks: tuple[Chunk, ...]
    strategy: ChunkingStrategy

    @property
    def text(self) -> str:
        """The whole text, pages joined by blank lines (what was chunked)."""
        return "\n\n".join(self.pages)

    @property
    def usage_bytes(self) -> int:
        """UTF-8 length of the extracted text (the newest recordings match it for plain text)."""
        return len(self.text.encode("utf-8"))


def ingest(
    filename: str,
    data: bytes,
    strategy: ChunkingStrategy = AUTO_CHUNKING,
    *,
    encoding: str = CHUNKING_ENCODING,
    max_tokens: int = MAX_FILE_TOKENS,
) -> Document:
    """Extract and chunk one file; ExtractionError carries the ``last_error`` when it fails.

    Does not check the extension: ``check_supported`` refuses those at request time, before
    ingestion starts.
    """
    pages = tuple(extract_pages(filename, data))
    text = "\n\n".join(pages)
    ids = load_encoding(encoding).encode_ordinary(text)
    if len(ids) > max_tokens:
        raise ExtractionError("invalid_file", FILE_TOO_LARGE_MESSAGE)
    return Document(pages, tuple(_windows(text, ids, strategy, encoding)), strategy)
