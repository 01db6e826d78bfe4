"""The models the emulator knows: context window, output limit and tokenizer by model name.

Limits are the ones OpenAI's model pages publish. A dated snapshot ("gpt-4o-2024-08-06") or
other suffixed name resolves to its longest known family name; an unknown model gets
DEFAULT_MODEL's limits under its own name, so any model string works as it does for the
real service's newer models.

A run's prompt budget is ``ModelInfo.prompt_budget``: the context window minus the room kept for
the reply (see there), further capped by the run's ``max_prompt_tokens``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["DEFAULT_MODEL", "DEFAULT_MODELS", "ModelInfo", "ModelRegistry"]

_O200K = "o200k_base"
_CL100K = "cl100k_base"


@dataclass(frozen=True)
class ModelInfo:
    """One model's limits, in tokens, and the tiktoken encoding that counts them."""

    name: str
    context_window: int
    max_output_tokens: int
    encoding: str  # "o200k_base" | "cl100k_base" (a counter plugged in with use_counter wins)

    def __post_init__(self) -> None:
        if self.context_window < 1 or self.max_output_tokens < 1:
            raise ValueError(f"model {self.name!r}: token limits must be positive")
        if self.encoding not in (_O200K, _CL100K):
            raise ValueError(
                f"model {self.name!r}: encoding {self.encoding!r} is not bundled; "
                f"use {_O200K!r} or {_CL100K!r}"
            )

    def prompt_budget(self, max_completion_tokens: int | None = None) -> int:
        """Tokens a prompt may use: the context window minus the room kept for the reply.

        The room is ``max_completion_tokens`` when given (at most ``max_output_tokens``), else
        ``max_output_tokens`` but at most half the window, so a model whose output may fill its
        whole window (gpt-4: 8,192 and 8,192) still takes a prompt.
        """
        if max_completion_tokens is not None:
            room = min(max_completion_tokens, self.max_output_tokens)
        else:
            room = min(self.max_output_tokens, self.context_window // 2)
        return self.context_window - room


DEFAULT_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("gpt-4o", 128_000, 16_384, _O200K),
    ModelInfo("gpt-4o-2024-05-13", 128_000, 4_096, _O200K),  # the first snapshot: 4k output
    ModelInfo("gpt-4o-mini", 128_000, 16_384, _O200K),
    ModelInfo("gpt-4.1", 1_047_576, 32_768, _O200K),
    ModelInfo("gpt-4.1-mini", 1_047_576, 32_768, _O200K),
    ModelInfo("gpt-4.1-nano", 1_047_576, 32_768, _O200K),
    ModelInfo("o1", 200_000, 100_000, _O200K),
    ModelInfo("o1-mini", 128_000, 65_536, _O200K),
    ModelInfo("o1-preview", 128_000, 32_768, _O200K),
    ModelInfo("o3", 200_000, 100_000, _O200K),
    ModelInfo("o3-mini", 200_000, 100_000, _O200K),
    ModelInfo("o4-mini", 200_000, 100_000, _O200K),
    ModelInfo("gpt-5", 400_000, 128_000, _O200K),
    ModelInfo("gpt-5-mini", 400_000, 128_000, _O200K),
    ModelInfo("gpt-5-nano", 400_000, 128_000, _O200K),
    ModelInfo("gpt-4-turbo", 128_000, 4_096, _CL100K),
    ModelInfo("gpt-4-1106-preview", 128_000, 4_096, _CL100K),  # GPT-4 Turbo previews
    ModelInfo("gpt-4-0125-preview", 128_000, 4_096, _CL100K),
    # GPT-4 documents no separate output cap: the output may use the whole window.
    ModelInfo("gpt-4", 8_192, 8_192, _CL100K),
    ModelInfo("gpt-4-32k", 32_768, 32_768, _CL100K),
    ModelInfo("gpt-3.5-turbo", 16_385, 4_096, _CL100K),
)
"""The models a fresh ModelRegistry knows."""

DEFAULT_MODEL = ModelInfo("default", 128_000, 16_384, _O200K)
"""Limits for a model the registry does not know: gpt-4o's (o200k_base, 128k in, 16k out),
the common ground of current models."""


class ModelRegistry:
    """Model name to ModelInfo: exact name, else the longest known family, else the default."""

    def __init__(
        self, models: Iterable[ModelInfo] = DEFAULT_MODELS, default: ModelInfo = DEFAULT_MODEL
    ) -> None:
        self._models: dict[str, ModelInfo] = {}
        self.default = default
        for info in models:
            self.register(info)

    def register(self, info: ModelInfo) -> None:
        """Add a model, or replace the one with the same name."""
        self._models[info.name] = info

    def get(self, model: str) -> ModelInfo:
        """The limits for ``model``.

        A family name matches only at a "-" boundary, longest first: "gpt-4o-mini-2024-07-18"
        is gpt-4o-mini, "gpt-4-0613" is gpt-4, but "gpt-4.5-preview" is not gpt-4. A resolved
        snapshot keeps its family's limits under the family's name; an unknown model gets the
        default's limits under its own name.
        """
        info = self._models.get(model)
        if info is not None:
            return info
        cut = model.rfind("-")
        while cut > 0:
            info = self._models.get(model[:cut])
            if info is not None:
                return info
            cut = model.rfind("-", 0, cut)
        return dataclasses.replace(self.default, name=model)

    def __contains__(self, model: object) -> bool:
        """Whether ``model`` is a registered name (exactly; no family or default fallback)."""
        return model in self._models

    def __iter__(self) -> Iterator[ModelInfo]:
        """The registered models, in registration order."""
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
