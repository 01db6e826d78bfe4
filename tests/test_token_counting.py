"""Token counting: bundled encodings equal the official ones, offline; models and formula."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

from emulator.engine import tokens
from emulator.engine.models import DEFAULT_MODEL, DEFAULT_MODELS, ModelInfo, ModelRegistry
from emulator.engine.tokens import (
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    EncodingDataError,
    TiktokenCounter,
    count_all,
    counter_for_encoding,
    fixed_prompt_tokens,
    load_encoding,
    message_tokens,
    tools_tokens,
)

ENCODINGS = ("cl100k_base", "o200k_base")


@pytest.fixture
def fresh_encodings() -> None:
    """Forget loaded encodings, so the test really loads from disk. What it loads stays loaded:
    the bundled files, as any later test would load them (and loading costs ~0.3 s each)."""
    load_encoding.cache_clear()


# Ids computed once with the bundled files; "hello world" and "tiktoken is great!" are also
# the examples tiktoken itself publishes.
@pytest.mark.parametrize(
    ("encoding", "text", "ids"),
    [
        ("cl100k_base", "hello world", [15339, 1917]),
        ("o200k_base", "hello world", [24912, 2375]),
        ("cl100k_base", "tiktoken is great!", [83, 1609, 5963, 374, 2294, 0]),
        ("o200k_base", "tiktoken is great!", [83, 8251, 2488, 382, 2212, 0]),
        ("cl100k_base", "Bonjour le monde 😀", [82681, 514, 38900, 91416]),
        ("o200k_base", "Bonjour le monde 😀", [45751, 505, 15807, 88038]),
        ("cl100k_base", "<|endoftext|>", [27, 91, 8862, 728, 428, 91, 29]),
        ("o200k_base", "<|endoftext|>", [27, 91, 419, 1440, 919, 91, 29]),
        (
            "cl100k_base",
            "Thread run_abc123 requires_action",
            [6998, 1629, 62, 13997, 4513, 7612, 8090],
        ),
        (
            "o200k_base",
            "Thread run_abc123 requires_action",
            [6482, 2461, 62, 26682, 7633, 10860, 17870],
        ),
    ],
)
def test_counts_equal_the_official_encoding(encoding: str, text: str, ids: list[int]) -> None:
    assert load_encoding(encoding).encode_ordinary(text) == ids
    assert TiktokenCounter(encoding).count(text) == len(ids)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_specs_match_installed_tiktoken(monkeypatch: pytest.MonkeyPatch, encoding: str) -> None:
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *args, **kwargs: {})
    official = getattr(openai_public, encoding)()
    loaded = load_encoding(encoding)
    assert loaded._pat_str == official["pat_str"]
    assert loaded._special_tokens == official["special_tokens"]
    assert loaded.n_vocab == {"cl100k_base": 100_277, "o200k_base": 200_019}[encoding]


def test_loading_needs_no_network(monkeypatch: pytest.MonkeyPatch, fresh_encodings: None) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while loading an encoding")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    for encoding in ENCODINGS:
        assert TiktokenCounter(encoding).count("hello world") == 2


def test_corrupt_rank_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_encodings: None
) -> None:
    original = gzip.decompress((tokens._DATA_DIR / "cl100k_base.tiktoken.gz").read_bytes())
    corrupt = original.replace(b" 0\n", b" 1\n", 1)
    (tmp_path / "cl100k_base.tiktoken.gz").write_bytes(gzip.compress(corrupt, compresslevel=1))
    monkeypatch.setattr(tokens, "_DATA_DIR", tmp_path)

    with pytest.raises(EncodingDataError, match="sha256"):
        load_encoding("cl100k_base")
    with pytest.raises(EncodingDataError, match="cannot read"):
        load_encoding("o200k_base")  # missing from tmp_path


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="p50k_base"):
        load_encoding("p50k_base")
    with pytest.raises(ValueError, match="p50k_base"):
        TiktokenCounter("p50k_base")


def test_counter_is_shared_per_encoding() -> None:
    assert counter_for_encoding("o200k_base") is counter_for_encoding("o200k_base")
    assert counter_for_encoding("cl100k_base").encoding.name == "cl100k_base"


def test_count_is_cached_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = TiktokenCounter("o200k_base")
    assert counter.count("hello world") == 2
    monkeypatch.setattr(counter, "_encoding", None)
    monkeypatch.setattr(tokens, "load_encoding", lambda name: pytest.fail("recounted"))
    assert counter.count("hello world") == 2  # served from the cache, no encoding needed

    monkeypatch.undo()
    monkeypatch.setattr(tokens, "_MAX_CACHED_COUNTS", 3)
    for text in ("a", "b", "c", "d", "e"):
        counter.count(text)
    assert len(counter._counts) <= 3


BATCH = [
    "hello world",
    "",
    "Bonjour 😀😀 le monde, ça va? 日本語のテキスト",
    "hello world",  # twice in one batch
    "<|endoftext|> is ordinary text here",
    "a lone surrogate \ud800 is replaced, as count() does",
    "  spaces   and\n\nnewlines\t\ttabs  ",
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("cached", [0, 2, len(BATCH)])
def test_count_many_equals_count(encoding: str, cached: int) -> None:
    """Counting a batch gives count()'s numbers, whichever of its texts were counted before."""
    expected = [TiktokenCounter(encoding).count(text) for text in BATCH]
    counter = TiktokenCounter(encoding)
    for text in BATCH[:cached]:
        counter.count(text)
    assert counter.count_many(BATCH) == expected
    assert counter.count_many([]) == []
    assert count_all(counter, BATCH) == expected


def test_count_many_caches_what_it_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = TiktokenCounter("o200k_base")
    assert counter.count_many(["hello world", "tiktoken is great!"]) == [2, 6]
    monkeypatch.setattr(counter, "_encoding", None)
    monkeypatch.setattr(tokens, "load_encoding", lambda name: pytest.fail("recounted"))
    assert counter.count("tiktoken is great!") == 6
    assert counter.count_many(["tiktoken is great!", "hello world"]) == [6, 2]

    counter.forget()
    with pytest.raises(pytest.fail.Exception, match="recounted"):
        counter.count_many(["hello world"])

    monkeypatch.undo()
    monkeypatch.setattr(tokens, "_MAX_CACHED_COUNTS", 3)
    counter.count_many(["a", "b"])
    counter.count_many(["c", "d"])  # over the bound: the cache starts again
    assert sorted(counter._counts) == ["c", "d"]
    assert counter.count_many(["e", "f", "g", "h"]) == [1, 1, 1, 1]  # too many to keep
    assert len(counter._counts) <= 3


def test_count_all_asks_any_counter_text_by_text() -> None:
    class Letters:
        def count(self, text: str) -> int:
            return len(text)

        def truncate(self, text: str, max_tokens: int) -> str:
            return text[:max_tokens]

    class Doubled(TiktokenCounter):  # a subclass may count otherwise: count_many is not it
        def count(self, text: str) -> int:
            return 2 * super().count(text)

    assert count_all(Letters(), ["ab", "", "abc"]) == [2, 0, 3]
    assert count_all(Doubled("o200k_base"), ["hello world", ""]) == [4, 0]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "text",
    [
        "hello world, this is a thread message",
        "Bonjour 😀😀 le monde, ça va? 日本語のテキスト",
        "  spaces   and\n\nnewlines\t\ttabs  ",
        "",
    ],
)
def test_truncate_round_trips(encoding: str, text: str) -> None:
    counter = TiktokenCounter(encoding)
    total = counter.count(text)
    for max_tokens in range(total + 2):
        head = counter.truncate(text, max_tokens)
        assert text.startswith(head)
        assert counter.count(head) <= max_tokens
        if max_tokens >= total:
            assert head == text


def test_truncate_keeps_the_first_tokens() -> None:
    counter = TiktokenCounter("cl100k_base")
    assert counter.truncate("hello world", 1) == "hello"
    assert counter.truncate("hello world", 0) == ""
    assert counter.truncate("😀", 1) == ""  # a cut inside a character drops the character
    with pytest.raises(ValueError):
        counter.truncate("hello", -1)


def test_prompt_formula() -> None:
    counter = counter_for_encoding("o200k_base")
    assert MESSAGE_OVERHEAD == 3
    assert REPLY_PRIMING == 3
    assert message_tokens(counter, "user", "hello world") == 3 + 1 + 2

    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    compact = json.dumps(tool, separators=(",", ":"), sort_keys=True)
    assert tools_tokens(counter, [tool, tool]) == 2 * counter.count(compact)

    assert fixed_prompt_tokens(counter, "", []) == REPLY_PRIMING
    assert fixed_prompt_tokens(counter, "Be brief.", [tool]) == (
        message_tokens(counter, "system", "Be brief.") + counter.count(compact) + REPLY_PRIMING
    )


@pytest.mark.parametrize(
    ("model", "family", "context_window", "encoding"),
    [
        ("gpt-4o", "gpt-4o", 128_000, "o200k_base"),
        ("gpt-4o-2024-08-06", "gpt-4o", 128_000, "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", 128_000, "o200k_base"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini", 1_047_576, "o200k_base"),
        ("o3-mini-2025-01-31", "o3-mini", 200_000, "o200k_base"),
        ("gpt-5-nano", "gpt-5-nano", 400_000, "o200k_base"),
        ("gpt-4-0613", "gpt-4", 8_192, "cl100k_base"),
        ("gpt-4-32k-0613", "gpt-4-32k", 32_768, "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", 128_000, "cl100k_base"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", 16_385, "cl100k_base"),
    ],
)
def test_registry_resolves_snapshots_to_their_family(
    model: str, family: str, context_window: int, encoding: str
) -> None:
    info = ModelRegistry().get(model)
    assert (info.name, info.context_window, info.encoding) == (family, context_window, encoding)


@pytest.mark.parametrize("model", ["my-fine-tune", "gpt-4.5-preview", "o9"])
def test_registry_gives_unknown_models_the_default(model: str) -> None:
    info = ModelRegistry().get(model)
    assert info.name == model
    assert (info.context_window, info.max_output_tokens, info.encoding) == (
        DEFAULT_MODEL.context_window,
        DEFAULT_MODEL.max_output_tokens,
        DEFAULT_MODEL.encoding,
    )


def test_registry_register_and_custom_default() -> None:
    tiny = ModelInfo("tiny", 1_000, 100, "cl100k_base")
    registry = ModelRegistry(default=tiny)
    assert "gpt-4o" in registry
    assert "gpt-4o-2024-08-06" not in registry
    assert registry.get("whatever").context_window == 1_000

    registry.register(ModelInfo("gpt-4o", 4_096, 512, "o200k_base"))
    registry.register(ModelInfo("acme", 2_048, 256, "cl100k_base"))
    assert registry.get("gpt-4o-2024-08-06").context_window == 4_096
    assert registry.get("acme-v2").name == "acme"
    assert [info.name for info in registry][-1] == "acme"
    assert len(registry) == len(DEFAULT_MODELS) + 1


def test_default_models_use_bundled_encodings() -> None:
    for info in DEFAULT_MODELS:
        assert info.encoding in ENCODINGS, info
        assert info.max_output_tokens <= info.context_window, info
    with pytest.raises(ValueError):
        ModelInfo("broken", 0, 1, "o200k_base")
