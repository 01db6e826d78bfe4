"""Token counting with the bundled tiktoken encodings, and the chat prompt formula.

The encodings are built offline from the rank files shipped in ``emulator/_data`` (the same
files tiktoken downloads, verified by the same sha256), so counts equal the official ones.

The service never documented how it counts a prompt; the emulator uses the chat format's
well-known estimate:

    prompt_tokens = sum over messages of (MESSAGE_OVERHEAD + count(role) + count(text))
                  + the instructions as one "system" message, when non-empty
                  + sum over tools of count(compact JSON of the tool)
                  + REPLY_PRIMING

where the compact JSON is ``json.dumps(tool, separators=(",", ":"), sort_keys=True)`` (written
by orjson, so a float may be spelled otherwise: ``1e-05`` as ``0.00001``).

In a run: the instructions are the run's (``instructions`` override, else the assistant's, then
``additional_instructions`` after a blank line), the tools are the run's as it echoes them, and
the messages are the visible ones after truncation. A message's text is its text parts joined
by newlines, an image counting as "[image]"; each of the run's function calls with its output
is one "tool" message with text ``name(arguments) -> output``. A reply costs
``count(text)`` completion tokens, a tool call ``count(name) + count(arguments)``.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.resources
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any, Protocol, cast

import tiktoken

from ..wire.render import compact_json

__all__ = [
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMING",
    "EncodingDataError",
    "TiktokenCounter",
    "TokenCounter",
    "count_all",
    "counter_for_encoding",
    "fixed_prompt_tokens",
    "load_encoding",
    "message_overhead",
    "message_tokens",
    "tools_tokens",
]

MESSAGE_OVERHEAD = 3
"""Tokens each chat message costs beyond its role and text (the message delimiters)."""

REPLY_PRIMING = 3
"""Tokens once per prompt that prime the assistant's reply."""

_MAX_CACHED_COUNTS = 200_000
"""A counter forgets its cached counts past this many texts, to bound memory."""

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class _EncodingSpec:
    """What tiktoken_ext/openai_public.py says about one encoding, minus the download URL."""

    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int]


_SPECS: Mapping[str, _EncodingSpec] = {
    "cl100k_base": _EncodingSpec(
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
            r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _EncodingSpec(
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
}

_DATA_DIR: Traversable = importlib.resources.files("emulator") / "_data"
"""Where the gzipped rank files live; a module attribute so tests can point it elsewhere."""


class EncodingDataError(RuntimeError):
    """A bundled rank file is missing or does not match its published sha256."""


def bundled_encodings() -> tuple[str, ...]:
    """The encodings whose rank files ship with the package."""
    return tuple(sorted(_SPECS))


def rank_file(name: str) -> bytes:
    """The bundled rank file of encoding ``name`` exactly as tiktoken downloads it, verified."""
    return _read_verified(name, _SPECS[name])


def rank_file_sha256(name: str) -> str:
    """The published sha256 of encoding ``name``'s rank file."""
    return _SPECS[name].sha256


def _read_verified(name: str, spec: _EncodingSpec) -> bytes:
    source = _DATA_DIR / f"{name}.tiktoken.gz"
    try:
        data = gzip.decompress(source.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise EncodingDataError(f"cannot read the bundled rank file {source}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise EncodingDataError(
            f"the bundled rank file {source} has sha256 {digest}, expected {spec.sha256}: "
            "it is corrupt or was replaced; reinstall the package"
        )
    return data


def _load_ranks(name: str, spec: _EncodingSpec) -> dict[bytes, int]:
    """Read, verify and parse ``<name>.tiktoken.gz``: one "base64-token rank" pair a line."""
    data = _read_verified(name, spec)
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def load_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` built from the bundled data: offline, verified, cached."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown encoding {name!r}; bundled: {', '.join(sorted(_SPECS))}")
    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=_load_ranks(name, spec),
        special_tokens=dict(spec.special_tokens),
    )


class TokenCounter(Protocol):
    """Counts and cuts text in tokens; the seam between truncation and a tokenizer."""

    def count(self, text: str) -> int:
        """The number of tokens in ``text``."""
        ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """The beginning of ``text`` its first ``max_tokens`` tokens cover.

        The result is a prefix of ``text`` and ``count(result) <= max_tokens``.
        """
        ...


class TiktokenCounter:
    """A TokenCounter over a bundled encoding, loaded on first use, with counts cached per text.

    Special-token strings in the text count as ordinary text, as for message content.
    """

    def __init__(self, encoding: str) -> None:
        if encoding not in _SPECS:
            raise ValueError(f"unknown encoding {encoding!r}; bundled: {', '.join(sorted(_SPECS))}")
        self.encoding_name = encoding
        self._encoding: tiktoken.Encoding | None = None
        self._counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.encoding_name!r})"

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The tiktoken encoding, loaded (once per process) on first access."""
        if self._encoding is None:
            self._encoding = load_encoding(self.encoding_name)
        return self._encoding

    def count(self, text: str) -> int:
        """The number of tokens in ``text``; cached, so recounting a long thread is cheap."""
        counts = self._counts
        cached = counts.get(text)
        if cached is not None:
            return cached
        tokens = len((self._encoding or self.encoding).encode_ordinary(text))
        if len(counts) >= _MAX_CACHED_COUNTS:
            counts.clear()
        counts[text] = tokens
        return tokens

    def forget(self) -> None:
        """Forget the cached counts: texts counted before are encoded again."""
        self._counts.clear()

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """``count()`` of each of ``texts``, in one pass: the cached looked up, the others
        encoded one after another and cached. The same numbers as ``count()``, without a Python
        call per text (a long thread's first run counts thousands)."""
        counts = self._counts
        cached = list(map(counts.get, texts))
        missing = cached.count(None)
        if not missing:
            return cast(list[int], cached)
        encode = (self._encoding or self.encoding).encode_ordinary
        unknown = texts if missing == len(texts) else [t for t in texts if t not in counts]
        new = list(map(len, map(encode, unknown)))
        if len(counts) + len(new) > _MAX_CACHED_COUNTS:
            counts.clear()
        if len(new) <= _MAX_CACHED_COUNTS:
            counts.update(zip(unknown, new, strict=True))
        if unknown is texts:
            return new
        fresh = iter(new)
        return [next(fresh) if count is None else count for count in cached]

    def truncate(self, text: str, max_tokens: int) -> str:
        """The prefix of ``text`` its first ``max_tokens`` tokens decode to.

        A cut inside a multi-byte character drops that character; should the prefix re-encode
        to more tokens (a rare BPE boundary effect), fewer tokens are kept until it fits.
        """
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        encoding = self.encoding
        tokens = encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return text
        for kept in range(max_tokens, 0, -1):
            head = encoding.decode_bytes(tokens[:kept]).decode("utf-8", errors="ignore")
            prefix = text[: len(head)]
            if self.count(prefix) <= max_tokens:
                return prefix
        return ""


@functools.cache
def counter_for_encoding(name: str) -> TiktokenCounter:
    """The process-wide counter for encoding ``name``, so its count cache is shared."""
    return TiktokenCounter(name)


def count_all(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """``counter.count()`` of each of ``texts``; in one pass for a TiktokenCounter (not for a
    subclass: it may count otherwise)."""
    if type(counter) is TiktokenCounter:
        return counter.count_many(texts)
    return list(map(counter.count, texts))


def message_tokens(counter: TokenCounter, role: str, text: str) -> int:
    """Tokens one chat message costs in a prompt: overhead, role and text."""
    return message_overhead(counter, role) + counter.count(text)


def message_overhead(counter: TokenCounter, role: str) -> int:
    """What a message of ``role`` costs besides its text: MESSAGE_OVERHEAD and the role."""
    return MESSAGE_OVERHEAD + counter.count(role)


def tools_tokens(counter: TokenCounter, tools: Sequence[Mapping[str, Any]]) -> int:
    """An estimate of the tokens tool definitions cost: their compact JSON, counted."""
    return sum(counter.count(compact_json(tool, sort_keys=True)) for tool in tools)


def fixed_prompt_tokens(
    counter: TokenCounter, instructions: str, tools: Sequence[Mapping[str, Any]]
) -> int:
    """Tokens of the prompt that no truncation touches: instructions, tools, reply priming."""
    system = message_tokens(counter, "system", instructions) if instructions else 0
    return system + tools_tokens(counter, tools) + REPLY_PRIMING
