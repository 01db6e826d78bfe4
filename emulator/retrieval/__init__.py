"""Files and knowledge, no HTTP: which files file_search takes, their text, chunks and search.

* ``extract``: the supported-extension rule and its 400, text extraction.
* ``ingest``: chunking strategies and token windows; ``ingest`` = extract + chunk.
* ``search``: the per-store BM25 index, pluggable rankers, result shapes.
* ``query``: the search request body and the query rewrite.
* ``filters``: file ``attributes`` and search ``filters``.
"""

from .extract import (
    SUPPORTED_EXTENSIONS,
    ExtractionError,
    LastErrorCode,
    check_supported,
    extension,
    extract_pages,
    extract_text,
)
from .filters import (
    Attributes,
    AttributeValue,
    ComparisonFilter,
    CompoundFilter,
    Filter,
    parse_filter,
    validate_attributes,
)
from .ingest import (
    AUTO_CHUNKING,
    Chunk,
    ChunkingStrategy,
    Document,
    chunk,
    ingest,
    parse_chunking_strategy,
)
from .query import SearchRequest, parse_search_request, rewrite_query
from .search import (
    FileChunk,
    Ranker,
    SearchIndex,
    SearchResult,
    file_search_result,
    search,
    search_results_page,
)

__all__ = [
    "AUTO_CHUNKING",
    "SUPPORTED_EXTENSIONS",
    "AttributeValue",
    "Attributes",
    "Chunk",
    "ChunkingStrategy",
    "ComparisonFilter",
    "CompoundFilter",
    "Document",
    "ExtractionError",
    "FileChunk",
    "Filter",
    "LastErrorCode",
    "Ranker",
    "SearchIndex",
    "SearchRequest",
    "SearchResult",
    "check_supported",
    "chunk",
    "extension",
    "extract_pages",
    "extract_text",
    "file_search_result",
    "ingest",
    "parse_chunking_strategy",
    "parse_filter",
    "parse_search_request",
    "rewrite_query",
    "search",
    "search_results_page",
    "validate_attributes",
]
