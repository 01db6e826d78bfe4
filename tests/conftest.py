"""Shared fixtures and helpers: SDK clients talking to the `assistants_emulator` fixture (from
our plugin), the objects most tests start from, a word-counting `TokenCounter`, and a run
brought to any status; and what keeps the whole suite fast (two xdist workers by default, one
shared TLS context)."""

from __future__ import annotations

import functools
import importlib
import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run
from pydantic import BaseModel

from emulator import Emulator, reply

M = TypeVar("M", bound=BaseModel)
WORKERS = 2  # the suite's target machine has two cores

WAIT = 10  # seconds: a bound on every wait, never a sleep


class Gate:
    """Blocks whoever passes `through()` until the test opens it; says when someone waits."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def through(self) -> None:
        self.reached.set()
        assert self._open.wait(WAIT), "the gate was never opened"

    def open(self) -> None:
        self._open.set()


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite (`python -m pytest`, no paths given) runs on two pytest-xdist workers
    when pytest-xdist is installed and two CPUs are free: about half the wall time of one
    process. Named files or tests run in one process, where starting workers would cost more
    than they save; `-n N`, `-n 0` and `-p no:xdist` choose for themselves."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    option = config.option
    chosen = option.numprocesses is not None or option.tx or option.usepdb or option.collectonly
    whole_suite = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if chosen or not whole_suite or _cpus() < WORKERS:
        return
    option.numprocesses = WORKERS
    if option.dist == "no":
        option.dist = "loadscope"  # a module's tests share a worker: one browser, one setup


def _cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@pytest.fixture(scope="session", autouse=True)
def one_default_ssl_context() -> Iterator[None]:
    """Every default httpx/httpx2 transport shares one verifying `ssl.SSLContext`.

    Building one loads the whole CA bundle (about 25 ms with OpenSSL 3) and every SDK client
    builds one; over a thousand clients made that a third of the suite's time. The emulator
    answers before TLS, and loopback servers speak plain HTTP, so no test ever uses it.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in ("httpx._transports.default", "httpx2._transports.default"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            patch.setattr(module, "create_ssl_context", _shared_default(module.create_ssl_context))
        yield


def _shared_default(create: Callable[..., ssl.SSLContext]) -> Callable[..., ssl.SSLContext]:
    """`create`, answering its default call (`verify=True`, no `cert`) with one cached context."""
    default = functools.cache(create)

    def create_ssl_context(
        verify: Any = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None:
            return default(trust_env=trust_env)
        return create(verify=verify, cert=cert, trust_env=trust_env)

    return create_ssl_context


@pytest.fixture
def anyio_backend() -> str:
    """`@pytest.mark.anyio` tests run on asyncio."""
    return "asyncio"


def conforming(model: type[M], raw: dict[str, Any]) -> M:
    """`raw` carries every field the SDK type declares and validates in strict mode."""
    assert set(model.model_fields) <= raw.keys(), set(model.model_fields) - raw.keys()
    return model.model_validate(raw, strict=True)


class WordCounter:
    """A `TokenCounter` where a token is a word, so budgets are easy to reason about; it
    remembers every text it counted."""

    def __init__(self) -> None:
        self.counted: list[str] = []

    def count(self, text: str) -> int:
        self.counted.append(text)
        return len(text.split())

    def truncate(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[:max_tokens])


def run_in_status(
    status: str, emu: Emulator, client: openai.OpenAI, thread: Thread, assistant: Assistant
) -> dict[str, Any]:
    """Create a run on `thread` and bring it to `status` the way a user's test would.

    Returns the run's raw JSON as the API last answered it; the emulator stores that status.
    """
    runs = client.beta.threads.runs
    if status in ("queued", "in_progress"):
        emu.hold(status)  # type: ignore[arg-type]
    elif status == "cancelling":
        emu.progress = "step"  # cancelling lasts until the run is next looked at
    elif status in ("requires_action", "expired", "cancelled"):
        emu.script(reply.tool_call("get_weather", {"city": "Paris"}))
    elif status == "failed":
        emu.script(reply.fail("rate_limit_exceeded", "Slow down."))
    elif status == "incomplete":
        emu.script(reply.incomplete("max_prompt_tokens"))
    run = runs.create(thread_id=thread.id, assistant_id=assistant.id)
    if status == "cancelling":
        runs.retrieve(run.id, thread_id=thread.id)  # a step: in_progress
        answer = runs.with_raw_response.cancel(run.id, thread_id=thread.id)
    else:
        if status == "cancelled":
            runs.cancel(run.id, thread_id=thread.id)
        elif status == "expired":
            emu.clock.advance(minutes=10, seconds=1)
        answer = runs.with_raw_response.retrieve(run.id, thread_id=thread.id)
    raw: dict[str, Any] = json.loads(answer.text)
    assert raw["status"] == emu.runs(thread.id)[-1]["status"] == status
    return raw


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
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait asked for, recorded instead of slept: `time.sleep` and `anyio.sleep`, which
    both SDK lines wait with (retries, and the poll helpers' intervals), sync and async."""
    asked: list[float] = []

    async def record(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(time, "sleep", asked.append)
    monkeypatch.setattr(anyio, "sleep", record)
    return asked


class RealIds:
    """Placeholder ids in test data (`"file-1"`, `"vs_1"`) made real: each placeholder becomes
    an uploaded text file or an empty vector store, the same placeholder the same object, since
    the emulator checks that the files and stores `tool_resources` name exist."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client
        self.made: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str) and value.startswith(("file-", "vs_")):
            if value not in self.made:
                self.made[value] = self._make(value)
            return self.made[value]
        return value

    def _make(self, placeholder: str) -> str:
        if placeholder.startswith("vs_"):
            return self.client.vector_stores.create().id
        upload = (f"{placeholder}.txt", f"The text of {placeholder}.".encode())
        return self.client.files.create(file=upload, purpose="assistants").id


def answer_calls(client: openai.OpenAI, run: Run, *outputs: str) -> Run:
    """Submit one output per pending call, in order, and poll."""
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[
            {"tool_call_id": c.id, "output": o} for c, o in zip(calls, outputs, strict=True)
        ],
    )
