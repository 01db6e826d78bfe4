"""The one settings object of an emulator: how runs progress, what answers model turns, how
tokens are counted, how requests are authenticated and answered, how slowly. Change any of them
at any time; snapshots save the ones that are data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..engine.models import ModelInfo, ModelRegistry
from ..engine.responders import Responder, default_responder
from ..engine.tokens import TokenCounter, counter_for_encoding
from ..retrieval.search import Ranker
from ..wire.objects import Obj

Progress = Literal["resting", "step"]
HoldStatus = Literal["queued", "in_progress"]
Chunker = Callable[[str], Sequence[str]]


def split_words(text: str) -> list[str]:
    """Default delta split: words and punctuation runs, each with its leading space."""
    return re.findall(r"\s*[\w']+|\s*[^\w\s]+|\s+", text) or [text]


@dataclass
class Settings:
    """Behaviour switches of one emulator: engine, routing and fault options."""

    # engine
    progress: Progress = "resting"
    holds: dict[str | None, HoldStatus | None] = field(default_factory=dict)  # None: released
    chunker: Chunker = split_words
    models: ModelRegistry = field(default_factory=ModelRegistry)
    counter: Callable[[ModelInfo], TokenCounter] | None = None
    responder: Responder = default_responder
    assistant_responders: dict[str, Responder] = field(default_factory=dict)
    # files and vector stores
    ranker: Ranker | None = None  # None: the built-in BM25 ranking
    max_file_bytes: int = 512 * 1024 * 1024  # the real per-file upload limit
    allow_file_downloads: bool = False  # `assistants`/`user_data` content (real: a 400)
    hold_ingestion: bool = False  # vector store files stay `in_progress` until released
    # routing
    required_key: str | None = None
    isolate_keys: bool = False
    poll_after_ms: int | None = 0
    # faults
    latency: float = 0.0
    # request log: the newest `request_log` requests (None: all), `request_log_body` bytes of
    # each body (None: whole); `serve` bounds both, in-process keeps everything by default
    request_log: int | None = None
    request_log_body: int | None = None

    def counter_for(self, info: ModelInfo) -> TokenCounter:
        """The token counter for a model: the plugged-in one, else tiktoken's encoding."""
        return self.counter(info) if self.counter else counter_for_encoding(info.encoding)

    def responder_for(self, assistant: Obj) -> Responder:
        """The assistant's own responder (set by id, else by name), else the default one."""
        found = self.assistant_responders.get(assistant["id"])
        if found is None and assistant.get("name") is not None:
            found = self.assistant_responders.get(assistant["name"])
        return found if found is not None else self.responder
