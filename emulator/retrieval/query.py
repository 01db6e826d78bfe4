"""The body of ``POST /vector_stores/{id}/search``, validated, and the emulator's query rewrite.

Limits from the spec's ``VectorStoreSearchRequest`` (files-vector-stores.md §3.5): ``query`` a
string or an array of strings (required), ``max_num_results`` 1..50 (default 10),
``rewrite_query`` (default false), ``ranking_options`` ``{ranker: none | auto |
default-2024-11-15, score_threshold: 0..1}`` and ``filters``. The ranker name is accepted and
echoes nothing: the emulator ranks the same way for all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..wire.errors import InvalidRequestError
from . import _validate as v
from .filters import Filter, parse_filter
from .search import terms

__all__ = [
    "MAX_NUM_RESULTS",
    "SEARCH_RANKERS",
    "SearchRequest",
    "parse_search_request",
    "rewrite_query",
]

MAX_NUM_RESULTS = 50
SEARCH_RANKERS = ("none", "auto", "default-2024-11-15")

# fmt: off
_STOP_WORDS = frozenset({
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can",
    "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in",
    "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "please", "should", "so",
    "tell", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why",
    "will", "with", "would", "you", "your",
})
# fmt: on


def rewrite_query(query: str) -> str:
    """The emulator's deterministic ``rewrite_query``: the query's terms minus common words.

    ``"What is the return policy?"`` -> ``"return policy"``. The service rewrote with a model;
    this keeps the echo in ``search_query`` plausible and the ranking unchanged in spirit. A
    query of stop words only is kept as it was.
    """
    kept: list[str] = []
    for term in terms(query):
        if term not in _STOP_WORDS and term not in kept:
            kept.append(term)
    return " ".join(kept) if kept else query


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated search body."""

    query: tuple[str, ...]
    rewrite_query: bool = False
    max_num_results: int = 10
    ranker: str = "auto"
    score_threshold: float = 0.0
    filters: Filter | None = None

    @property
    def search_query(self) -> list[str]:
        """What the service searched for and echoes: the queries, rewritten if asked."""
        if self.rewrite_query:
            return [rewrite_query(query) for query in self.query]
        return list(self.query)


def parse_search_request(body: Mapping[str, Any]) -> SearchRequest:
    """Validate a decoded JSON body; the first problem is the 400 naming it."""
    if not isinstance(body, Mapping):
        raise InvalidRequestError(
            "Invalid body: expected a JSON object.", param=None, code="invalid_type"
        )
    allowed = ("query", "rewrite_query", "max_num_results", "ranking_options", "filters")
    v.check_keys(body, "", allowed=allowed, required=("query",))
    raw_query = body["query"]
    if isinstance(raw_query, str):
        query: tuple[str, ...] = (raw_query,)
    elif isinstance(raw_query, list):
        for i, item in enumerate(raw_query):
            if not isinstance(item, str):
                raise v.invalid_type(f"query[{i}]", "a string", item)
        query = tuple(raw_query)
    else:
        raise v.invalid_type("query", "one of a string or an array of strings", raw_query)
    rewrite = body.get("rewrite_query", False)
    if not isinstance(rewrite, bool):
        raise v.invalid_type("rewrite_query", "a boolean", rewrite)
    limit = v.integer(body.get("max_num_results", 10), "max_num_results")
    error = v.out_of_range("max_num_results", limit, minimum=1, maximum=MAX_NUM_RESULTS)
    if error is not None:
        raise error
    ranker, threshold = _ranking_options(body.get("ranking_options"))
    raw_filters = body.get("filters")
    filters = None if raw_filters is None else parse_filter(raw_filters, param="filters")
    return SearchRequest(query, rewrite, limit, ranker, threshold, filters)


def _ranking_options(value: Any) -> tuple[str, float]:
    if value is None:
        return "auto", 0.0
    if not isinstance(value, dict):
        raise v.invalid_type("ranking_options", "an object", value)
    v.check_keys(value, "ranking_options", allowed=("ranker", "score_threshold"))
    ranker = value.get("ranker", "auto")
    if not isinstance(ranker, str):
        raise v.invalid_type("ranking_options.ranker", "a string", ranker)
    if ranker not in SEARCH_RANKERS:
        raise v.invalid_value("ranking_options.ranker", ranker, SEARCH_RANKERS)
    threshold = value.get("score_threshold", 0.0)
    if not v.is_number(threshold):
        raise v.invalid_type("ranking_options.score_threshold", "a number", threshold)
    error = v.out_of_range(
        "ranking_options.score_threshold", threshold, minimum=0, maximum=1, decimal=True
    )
    if error is not None:
        raise error
    return ranker, float(threshold)
