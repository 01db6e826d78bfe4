"""Shared fixtures: SDK clients talking to the `assistants_emulator` fixture (from our plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from emulator import Emulator


@pytest.fixture
def emu(assistants_emulator: Emulator) -> Emulator:
    """Short name for the plugin's fixture."""
    return assistants_emulator


@pytest.fixture
def client(assistants_emulator: Emulator) -> Iterator[openai.OpenAI]:
    """A default sync SDK client, as a user would build it (no custom http client)."""
    with openai.OpenAI(api_key="sk-test") as sdk:
        yield sdk


@pytest.fixture
def async_client(assistants_emulator: Emulator) -> openai.AsyncOpenAI:
    """A default async SDK client; use it inside `asyncio.run(...)` in a sync test."""
    return openai.AsyncOpenAI(api_key="sk-test")
