"""Shared fixtures: SDK clients talking to the `assistants_emulator` fixture (from our plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai.types.beta import Assistant, Thread

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


WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "get_time"}},
]


@pytest.fixture
def tool_assistant(client: openai.OpenAI) -> Assistant:
    """An assistant with two function tools, `get_weather(city)` and `get_time()`."""
    return client.beta.assistants.create(
        model="gpt-4o", name="Weather bot", instructions="Answer briefly.", tools=WEATHER_TOOLS
    )


@pytest.fixture
def user_thread(client: openai.OpenAI) -> Thread:
    """A thread holding one user message: "What is the weather in Paris?"."""
    return client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the weather in Paris?"}]
    )


@pytest.fixture
def strict_client(assistants_emulator: Emulator) -> Iterator[openai.OpenAI]:
    """A sync SDK client that validates every response against the SDK's own types."""
    with openai.OpenAI(api_key="sk-test", _strict_response_validation=True) as sdk:
        yield sdk


@pytest.fixture
def strict_async_client(assistants_emulator: Emulator) -> openai.AsyncOpenAI:
    """An async SDK client that validates every response against the SDK's own types."""
    return openai.AsyncOpenAI(api_key="sk-test", _strict_response_validation=True)


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's waits between retries, recorded instead of slept (sync and async clients).

    Both SDK lines wait with `time.sleep` / `anyio.sleep` in `openai._base_client`.
    """
    import time
    from types import SimpleNamespace

    from openai import _base_client

    sleeps: list[float] = []

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(_base_client, "time", SimpleNamespace(sleep=sleeps.append, time=time.time))
    monkeypatch.setattr(_base_client, "anyio", SimpleNamespace(sleep=async_sleep))
    return sleeps
