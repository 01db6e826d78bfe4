"""Deterministic search over ingested chunks: a BM25 index with pluggable ranking.

The real service mixed keyword and embedding search and re-ranked; the emulator ranks lexically
with Okapi BM25 (k1 = 1.2, b = 0.75, the Lucene idf ``ln(1 + (N - df + 0.5) / (df + 0.5))``).
It is a small implementation on purpose: rank-bm25 and bm25s pull numpy/scipy, too heavy for a
test double, and neither keeps an index that files can join and leave.

* Terms are the ``\\w+`` runs of the case-folded text (Unicode-aware, no stemming, no stop
  words); a query counts each distinct term once.
* Scores are normalised to 0..1 against the query's own ceiling: BM25's per-term score is below
  ``idf * (k1 + 1)``, so ``score = bm25 / sum(idf(t) * (k1 + 1) for t in query)``. A chunk holding
  every query term often scores high, one holding rare terms scores higher than one holding
  common ones, and a score does not depend on the other results.
* Chunks without any query term (score 0) are never results; ``score_threshold`` drops scores
  below it, ``max_num_results`` keeps the best. Ties go to the smaller ``file_id``, then the
  earlier chunk, so equal inputs give equal results on every run and after a snapshot reload.
* With several queries a chunk scores its best over them.

A ``Ranker`` replaces BM25: it gets the query and the candidate chunks (already filtered) and
returns one score each, e.g. cosine similarities of real embeddings mapped to 0..1.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .filters import Attributes, Filter
from .ingest import Chunk

__all__ = [
    "BM25_B",
    "BM25_K1",
    "FileChunk",
    "Ranker",
    "SearchIndex",
    "SearchResult",
    "file_search_result",
    "search",
    "search_results_page",
    "terms",
]

BM25_K1 = 1.2
BM25_B = 0.75

_TERM = re.compile(r"\w+")


def terms(text: str) -> list[str]:
    """The lexical terms of ``text``: case-folded ``\\w+`` runs, in order."""
    return _TERM.findall(text.casefold())


@dataclass(frozen=True, slots=True)
class FileChunk:
    """A chunk as search sees it: which file it came from, its position and text."""

    file_id: str
    filename: str
    index: int
    text: str
    tokens: int


Ranker = Callable[[str, Sequence[FileChunk]], Sequence[float]]
"""``ranker(query, chunks) -> scores``: one score in 0..1 per chunk, higher is better.

Scores outside 0..1 are clamped; a NaN or a wrong number of scores is a ValueError.
"""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One matching chunk with its file's current attributes."""

    file_id: str
    filename: str
    score: float
    text: str
    chunk_index: int
    attributes: Mapping[str, str | int | float | bool]


class SearchIndex:
    """The chunks of one vector store's completed files, with BM25 statistics kept current.

    Files join with ``add`` when their ingestion completes and leave with ``remove``. Each chunk
    keeps its term counts, and each term the chunks holding it (ascending), so a search touches
    only the chunks that match. Not thread-safe: the store's lock guards it.
    """

    def __init__(self) -> None:
        self._chunks: dict[int, FileChunk] = {}
        self._counts: dict[int, Counter[str]] = {}
        self._lengths: dict[int, int] = {}
        self._postings: defaultdict[str, list[int]] = defaultdict(list)
        self._files: dict[str, list[int]] = {}
        self._total_length = 0
        self._next = 0
        self._norm_cache: tuple[float, dict[int, float]] | None = None

    def __contains__(self, file_id: object) -> bool:
        return file_id in self._files

    def __len__(self) -> int:
        """How many chunks the index holds."""
        return len(self._chunks)

    @property
    def file_ids(self) -> list[str]:
        """The indexed files, in the order they were added."""
        return list(self._files)

    def add(self, file_id: str, filename: str, chunks: Iterable[Chunk]) -> None:
        """Index a file's chunks; a file already present is replaced."""
        if file_id in self._files:
            self.remove(file_id)
        serials: list[int] = []
        postings = self._postings
        for item in chunks:
            serial = self._next
            self._next += 1
            words = terms(item.text)
            counts = Counter(words)
            for term in counts:
                postings[term].append(serial)
            self._counts[serial] = counts
            self._chunks[serial] = FileChunk(file_id, filename, item.index, item.text, item.tokens)
            self._lengths[serial] = len(words)
            self._total_length += len(words)
            serials.append(serial)
        self._files[file_id] = serials
        self._norm_cache = None

    def remove(self, file_id: str) -> None:
        """Drop a file's chunks; unknown ids are ignored (removal is idempotent)."""
        serials = self._files.pop(file_id, None)
        if not serials:
            return
        self._norm_cache = None
        gone = set(serials)
        touched: set[str] = set()
        for serial in serials:
            del self._chunks[serial]
            self._total_length -= self._lengths.pop(serial)
            touched.update(self._counts.pop(serial))
        for term in touched:
            kept = [serial for serial in self._postings[term] if serial not in gone]
            if kept:
                self._postings[term] = kept
            else:
                del self._postings[term]

    def _norms(self, average: float) -> dict[int, float]:
        """Each chunk's BM25 length normalisation for a corpus ``average``, cached per average."""
        cached = self._norm_cache
        if cached is None or cached[0] != average:
            scale = BM25_K1 * BM25_B / average
            base = BM25_K1 * (1.0 - BM25_B)
            cached = (average, {s: base + scale * n for s, n in self._lengths.items()})
            self._norm_cache = cached
        return cached[1]

    def search(
        self,
        queries: str | Sequence[str],
        *,
        max_num_results: int = 10,
        score_threshold: float = 0.0,
        filters: Filter | None = None,
        attributes: Mapping[str, Attributes] | None = None,
        ranker: Ranker | None = None,
    ) -> list[SearchResult]:
        """``search([self], ...)``: see ``search``."""
        return search(
            [self],
            queries,
            max_num_results=max_num_results,
            score_threshold=score_threshold,
            filters=filters,
            attributes=attributes,
            ranker=ranker,
        )


_Key = tuple[int, int]  # (position of the index in the searched list, chunk serial)
_K = TypeVar("_K")


def search(
    indexes: Sequence[SearchIndex],
    queries: str | Sequence[str],
    *,
    max_num_results: int = 10,
    score_threshold: float = 0.0,
    filters: Filter | None = None,
    attributes: Mapping[str, Attributes] | None = None,
    ranker: Ranker | None = None,
) -> list[SearchResult]:
    """The best chunks for ``queries`` over every index, best first (module docstring rules).

    ``attributes`` maps file ids to their current attributes (files missing from it have
    none); ``filters`` keeps only files whose attributes match. Several indexes (a run's
    assistant and thread stores) are searched as one corpus.
    """
    if max_num_results < 1:
        raise ValueError(f"max_num_results must be at least 1, got {max_num_results}")
    attributes = attributes or {}
    queries = [queries] if isinstance(queries, str) else list(queries)
    allowed = _allowed_files(indexes, filters, attributes)
    best: dict[_Key, float] = {}
    for query in queries:
        if ranker is None:
            scores = _bm25(indexes, query, allowed, max_num_results)
        else:
            scores = _ranked(indexes, query, allowed, max_num_results, ranker)
        if not best:
            best = scores
            continue
        for key, score in scores.items():
            if score > best.get(key, 0.0):
                best[key] = score
    kept = [(score, key) for key, score in best.items() if score >= score_threshold]
    # Ties: smaller file id, then earlier chunk, then earlier index, then insertion order.
    ranked = []
    for score, (position, serial) in kept:
        chunk = indexes[position]._chunks[serial]
        ranked.append((-score, chunk.file_id, chunk.index, position, serial, chunk))
    ranked.sort()
    results = []
    for negative, _, _, _, _, chunk in ranked[:max_num_results]:
        results.append(
            SearchResult(
                file_id=chunk.file_id,
                filename=chunk.filename,
                score=min(1.0, -negative),
                text=chunk.text,
                chunk_index=chunk.index,
                attributes=dict(attributes.get(chunk.file_id) or {}),
            )
        )
    return results


def _allowed_files(
    indexes: Sequence[SearchIndex], filters: Filter | None, attributes: Mapping[str, Attributes]
) -> set[str] | None:
    """The files ``filters`` lets through, or None for all."""
    if filters is None:
        return None
    files = {file_id for index in indexes for file_id in index._files}
    return {file_id for file_id in files if filters.matches(attributes.get(file_id))}


def _best(scores: dict[_K, float], limit: int) -> dict[_K, float]:
    """The entries that can make a top ``limit``: every score at least the limit-th best.

    Pruning each query and each index this way loses nothing: a chunk in the final top list
    is in the top list of the query and index that gave it its score (ties kept).
    """
    if len(scores) <= limit:
        return scores
    cutoff = sorted(scores.values(), reverse=True)[limit - 1]
    return {key: score for key, score in scores.items() if score >= cutoff}


def _bm25(
    indexes: Sequence[SearchIndex], query: str, allowed: set[str] | None, limit: int
) -> dict[_Key, float]:
    """Normalised BM25 scores of the best chunks holding at least one query term."""
    count = sum(len(index._chunks) for index in indexes)
    if count == 0:
        return {}
    average = sum(index._total_length for index in indexes) / count
    ceiling = 0.0
    weights: list[tuple[str, float]] = []
    # Sorted terms: each chunk's sum then runs in one order, whatever the insertion order.
    for term in sorted(set(terms(query))):
        frequency = sum(len(index._postings.get(term, ())) for index in indexes)
        weight = math.log(1.0 + (count - frequency + 0.5) / (frequency + 0.5)) * (BM25_K1 + 1.0)
        ceiling += weight
        if frequency:
            weights.append((term, weight))
    scores: dict[_Key, float] = {}
    for position, index in enumerate(indexes):
        norms, counts = index._norms(average), index._counts
        raw: dict[int, float] = {}
        for term, weight in weights:
            for serial in index._postings.get(term, ()):
                tf = counts[serial][term]
                raw[serial] = raw.get(serial, 0.0) + weight * tf / (tf + norms[serial])
        if allowed is not None:
            chunks = index._chunks
            raw = {s: score for s, score in raw.items() if chunks[s].file_id in allowed}
        for serial, score in _best(raw, limit).items():
            scores[(position, serial)] = score / ceiling
    return scores


def _ranked(
    indexes: Sequence[SearchIndex],
    query: str,
    allowed: set[str] | None,
    limit: int,
    ranker: Ranker,
) -> dict[_Key, float]:
    """A user ranker's scores over every allowed chunk, checked and clamped to 0..1."""
    keys: list[_Key] = []
    chunks: list[FileChunk] = []
    for position, index in enumerate(indexes):
        for serial, chunk in index._chunks.items():
            if allowed is None or chunk.file_id in allowed:
                keys.append((position, serial))
                chunks.append(chunk)
    if not chunks:
        return {}
    scores = list(ranker(query, chunks))
    if len(scores) != len(chunks):
        raise ValueError(f"the ranker returned {len(scores)} scores for {len(chunks)} chunks")
    ranked: dict[_Key, float] = {}
    for key, score in zip(keys, scores, strict=True):
        score = float(score)
        if math.isnan(score):
            raise ValueError("the ranker returned NaN")
        score = min(1.0, max(0.0, score))
        if score > 0.0:
            ranked[key] = score
    return _best(ranked, limit)


def search_results_page(
    search_query: Sequence[str], results: Sequence[SearchResult]
) -> dict[str, object]:
    """The ``vector_store.search_results.page`` answer of ``POST /vector_stores/{id}/search``.

    One item per chunk (a file may appear more than once), with ``filename`` (not the run
    step's ``file_name``) and the chunk as one ``text`` content part; never a next page.
    """
    return {
        "object": "vector_store.search_results.page",
        "search_query": list(search_query),
        "data": [
            {
                "file_id": result.file_id,
                "filename": result.filename,
                "score": result.score,
                "attributes": dict(result.attributes),
                "content": [{"type": "text", "text": result.text}],
            }
            for result in results
        ],
        "has_more": False,
        "next_page": None,
    }


def file_search_result(result: SearchResult, *, include_content: bool) -> dict[str, object]:
    """One entry of a file_search call's ``results`` in a run step, in the recorded key order.

    ``content`` only when the request asked for it with
    ``include[]=step_details.tool_calls[*].file_search.results[*].content`` (§9.5).
    """
    entry: dict[str, object] = {
        "file_id": result.file_id,
        "file_name": result.filename,
        "score": result.score,
        "attributes": dict(result.attributes),
    }
    if include_content:
        entry["content"] = [{"type": "text", "text": result.text}]
    return entry
