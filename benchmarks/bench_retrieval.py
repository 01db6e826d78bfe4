"""Retrieval speed: `python -m benchmarks.bench_retrieval`.

Measured in one process, on deterministic generated prose (seeded, Zipf-distributed words):

- ingesting a 1 MB text file (`ingest`: decode, tiktoken encode, 800/400 token windows) against
  tiktoken's own `encode_ordinary` of the same text; the target (issue 14) is at most 2x. Adding
  the chunks to a search index is reported beside it;
- a search over 1,000 chunks (20 files of 50 chunks), plain and with an attribute filter; the
  target is at most 5 ms.

Times are CPU time of this process (`time.process_time`, median of repeats), so other work on
the machine does not skew them. `measure()` returns the figures as a dict (for
`benchmarks/run.py`); `__main__` prints them.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_retrieval.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.engine.tokens import load_encoding
from emulator.retrieval import SearchIndex, chunk, ingest, parse_filter
from emulator.retrieval.ingest import CHUNKING_ENCODING

INGEST_TARGET_RATIO = 2.0
SEARCH_TARGET_MS = 5.0
FILE_BYTES = 1_000_000
REPEATS = 7
QUERIES = (
    "What is the refund policy for damaged parcels?",
    "engine maintenance schedule",
    "How do I reset the account password",
    "quarterly revenue forecast and hiring plan",
)


def prose(size: int, seed: int = 14) -> str:
    """About ``size`` bytes of sentences from a 5,000-word vocabulary with Zipf frequencies.

    The vocabulary is made-up words plus common English ones and every word of ``QUERIES``.
    """
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    vocabulary = [
        "".join(rng.choice(letters[: 8 + i % 18]) for _ in range(2 + i % 9)) for i in range(5000)
    ]
    vocabulary[:12] = ["the", "of", "and", "to", "a", "in", "is", "for", "on", "with", "as", "by"]
    # Every query word occurs, from fairly common to rare, so searches have work to do.
    for rank, word in enumerate(sorted({w for q in QUERIES for w in q.lower().split()} - {"the"})):
        vocabulary[12 + rank * rank] = word.strip("?")
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]
    parts: list[str] = []
    length = 0
    while length < size:
        words = rng.choices(vocabulary, weights, k=rng.randint(6, 24))
        sentence = " ".join(words).capitalize() + (".\n\n" if rng.random() < 0.1 else ". ")
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)[:size]


def _timings(action: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return times


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    return statistics.median(_timings(action, repeats))


def measure_ingest() -> dict[str, Any]:
    text = prose(FILE_BYTES)
    data = text.encode("utf-8")
    encoding = load_encoding(CHUNKING_ENCODING)
    encoding.encode_ordinary("warm up")
    encode = _median_seconds(lambda: encoding.encode_ordinary(text))
    document = ingest("report.txt", data)
    ingested = _median_seconds(lambda: ingest("report.txt", data))
    indexed = _median_seconds(lambda: SearchIndex().add("file-1", "report.txt", document.chunks))
    return {
        "file_bytes": len(data),
        "tokens": len(encoding.encode_ordinary(text)),
        "chunks": len(document.chunks),
        "tiktoken_encode_ms": round(encode * 1000, 1),
        "ingest_ms": round(ingested * 1000, 1),
        "ingest_ratio": round(ingested / encode, 2),
        "ingest_target_ratio": INGEST_TARGET_RATIO,
        "index_add_ms": round(indexed * 1000, 1),
        "ingest_and_index_ratio": round((ingested + indexed) / encode, 2),
    }


def build_index(files: int = 20, chunks_per_file: int = 50) -> tuple[SearchIndex, dict[str, Any]]:
    """An index of ``files * chunks_per_file`` chunks, 800/400 windows of generated prose."""
    index = SearchIndex()
    attributes: dict[str, Any] = {}
    text = prose(1_500_000, seed=7)
    pieces = chunk(text)
    for number in range(files):
        file_id = f"file-{number:022d}"
        start = number * chunks_per_file % max(1, len(pieces) - chunks_per_file)
        index.add(file_id, f"doc-{number}.txt", pieces[start : start + chunks_per_file])
        attributes[file_id] = {"team": "blue" if number % 2 else "red", "year": 2020 + number % 5}
    return index, attributes


def measure_search() -> dict[str, Any]:
    index, attributes = build_index()
    filters = parse_filter(
        {
            "type": "and",
            "filters": [
                {"type": "eq", "key": "team", "value": "blue"},
                {"type": "gte", "key": "year", "value": 2022},
            ],
        }
    )
    figures: dict[str, Any] = {"chunks": len(index), "target_ms": SEARCH_TARGET_MS}
    cases: dict[str, Callable[[str], object]] = {
        "search_ms": lambda q: index.search(q, max_num_results=10, attributes=attributes),
        "search_50_results_ms": lambda q: index.search(q, max_num_results=50),
        "search_filtered_ms": lambda q: index.search(
            q, max_num_results=10, filters=filters, attributes=attributes
        ),
    }
    for name, run in cases.items():
        timings = [_timings(partial(run, query), repeats=21) for query in QUERIES]
        # The slowest query's median, and its fastest repeat (the cost without interference).
        figures[name] = round(max(statistics.median(t) for t in timings) * 1000, 3)
        figures[name.replace("_ms", "_fastest_ms")] = round(max(min(t) for t in timings) * 1000, 3)
    return figures


def measure() -> dict[str, Any]:
    """Every figure, as one dict."""
    return {"ingest_1mb": measure_ingest(), "search_1000_chunks": measure_search()}


def main() -> None:
    figures = measure()
    ingest_figures, search_figures = figures["ingest_1mb"], figures["search_1000_chunks"]
    for name, value in ingest_figures.items():
        print(f"ingest  {name:<26} {value}")
    for name, value in search_figures.items():
        print(f"search  {name:<26} {value}")
    worst_search = max(
        v for k, v in search_figures.items() if k.startswith("search") and "fastest" not in k
    )
    print(
        f"targets: ingest {ingest_figures['ingest_ratio']}x <= {INGEST_TARGET_RATIO}x, "
        f"search {worst_search} ms <= {SEARCH_TARGET_MS} ms"
    )


if __name__ == "__main__":
    main()
