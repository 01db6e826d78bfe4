"""Fault injection: failed, dropped and timed-out requests, and the SDK's retries against them.

The SDK's default `max_retries=2` means three attempts, numbered by `x-stainless-retry-count`.
`sleeps` records the SDK's waits instead of sleeping them.
"""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from openai.types.beta import Assistant

from emulator import Emulator

STATUS_ERRORS = [
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
]


def retry_counts(emu: Emulator) -> list[str]:
    return [r.headers["x-stainless-retry-count"] for r in emu.requests]


@pytest.mark.parametrize(("status", "_error"), STATUS_ERRORS)
def test_two_failures_then_success_is_one_call_for_the_sdk(
    emu: Emulator,
    client: openai.OpenAI,
    sleeps: list[float],
    status: int,
    _error: type[openai.APIStatusError],
) -> None:
    emu.fail_next(2, status=status)

    assistant = client.beta.assistants.create(model="gpt-4o")

    assert [r.status for r in emu.requests] == [status, status, 200]
    assert retry_counts(emu) == ["0", "1", "2"]
    assert len(sleeps) == 2
    assert list(emu.assistants) == [assistant.id]  # the failed attempts created nothing


@pytest.mark.parametrize(("status", "error"), STATUS_ERRORS)
def test_three_failures_exhaust_the_retries(
    emu: Emulator,
    client: openai.OpenAI,
    sleeps: list[float],
    status: int,
    error: type[openai.APIStatusError],
) -> None:
    emu.fail_next(3, status=status)

    with pytest.raises(error) as raised:
        client.beta.assistants.create(model="gpt-4o")

    assert raised.value.status_code == status
    assert raised.value.request_id is not None
    assert isinstance(raised.value.body, dict) and raised.value.body["message"]
    assert retry_counts(emu) == ["0", "1", "2"]
    assert emu.assistants == {}
    assert emu.faults.pending == 0
    assert client.beta.assistants.create(model="gpt-4o").id in emu.assistants


def test_a_rate_limit_error_carries_the_real_envelope(
    emu: Emulator, client: openai.OpenAI, sleeps: list[float]
) -> None:
    emu.fail_next(3, status=429)

    with pytest.raises(openai.RateLimitError) as raised:
        client.beta.threads.create()

    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.type == "requests"
    assert raised.value.response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("retry_after", "headers"),
    [(2.5, {"retry-after": "2.5", "retry-after-ms": "2500"}), (0.0001, {"retry-after-ms": "0.1"})],
)
def test_retry_after_sets_the_sdk_wait(
    emu: Emulator,
    client: openai.OpenAI,
    sleeps: list[float],
    retry_after: float,
    headers: dict[str, str],
) -> None:
    emu.fail_next(2, status=429, retry_after=retry_after)
    response = client.with_options(max_retries=0).beta.assistants.with_raw_response

    with pytest.raises(openai.RateLimitError) as raised:
        response.create(model="gpt-4o")
    client.beta.assistants.create(model="gpt-4o")

    assert headers.items() <= dict(raised.value.response.headers).items()
    assert sleeps == [retry_after]


def test_without_retry_after_the_sdk_backs_off_exponentially(
    emu: Emulator, client: openai.OpenAI, sleeps: list[float]
) -> None:
    emu.fail_next(2, status=500)

    client.beta.assistants.create(model="gpt-4o")

    first, second = sleeps
    assert 0.375 <= first <= 0.5 and 0.75 <= second <= 1.0


@pytest.mark.parametrize(
    ("inject", "error"),
    [("drop_next", openai.APIConnectionError), ("timeout_next", openai.APITimeoutError)],
)
def test_network_faults_raise_the_sdk_connection_errors(
    emu: Emulator,
    client: openai.OpenAI,
    sleeps: list[float],
    inject: str,
    error: type[openai.APIConnectionError],
) -> None:
    getattr(emu, inject)(3)

    with pytest.raises(openai.APIConnectionError) as raised:
        client.beta.threads.create()

    assert type(raised.value) is error
    assert retry_counts(emu) == ["0", "1", "2"]
    assert [r.status for r in emu.requests] == [None, None, None]  # no answer was sent
    assert emu.threads == {}


@pytest.mark.parametrize("inject", ["drop_next", "timeout_next"])
def test_network_faults_then_success(
    emu: Emulator, client: openai.OpenAI, sleeps: list[float], inject: str
) -> None:
    getattr(emu, inject)(2)

    thread = client.beta.threads.create()

    assert list(emu.threads) == [thread.id]
    assert retry_counts(emu) == ["0", "1", "2"]


def test_a_fault_can_match_a_method_and_a_path(
    emu: Emulator, client: openai.OpenAI, sleeps: list[float]
) -> None:
    emu.fail_next(status=503, method="POST", path=r"^/threads/[^/]+/runs$")
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed"
    assert [(r.method, r.status) for r in emu.requests if r.path.endswith("/runs")] == [
        ("POST", 503),
        ("POST", 200),
    ]
    assert [r["id"] for r in emu.runs(thread.id)] == [run.id]  # the failed create made no run


def test_faults_are_used_up_in_order(emu: Emulator, client: openai.OpenAI) -> None:
    first = emu.fail_next(status=500)
    second = emu.fail_next(status=429)
    sdk = client.with_options(max_retries=0)

    with pytest.raises(openai.InternalServerError):
        sdk.beta.threads.create()
    assert (first.times, emu.faults.pending) == (0, 1)
    with pytest.raises(openai.RateLimitError):
        sdk.beta.threads.create()
    assert second.times == 0
    sdk.beta.threads.create()


def test_a_failed_streamed_run_is_retried_by_the_sdk(
    emu: Emulator, client: openai.OpenAI, sleeps: list[float]
) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    emu.fail_next(2, status=500, path="/runs$")

    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()

    assert stream.current_run is not None and stream.current_run.status == "completed"
    assert len(emu.runs(thread.id)) == 1


def test_the_async_client_retries_the_same_way(
    emu: Emulator, async_client: openai.AsyncOpenAI, sleeps: list[float]
) -> None:
    emu.fail_next(2, status=429, retry_after=1.5)

    assistant = asyncio.run(async_client.beta.assistants.create(model="gpt-4o"))

    Assistant.model_validate(emu.assistants[assistant.id])
    assert sleeps == [1.5, 1.5]
    assert retry_counts(emu) == ["0", "1", "2"]


def test_latency_delays_every_answer(
    emu: Emulator, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    emu.latency = 0.25

    client.beta.threads.create()
    client.beta.assistants.list()

    assert waits == [0.25, 0.25]
    emu.reset()
    assert emu.latency == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda emu: emu.fail_next(status=200),
        lambda emu: emu.fail_next(0),
        lambda emu: emu.drop_next(-1),
        lambda emu: setattr(emu, "latency", -1),
    ],
    ids=["success-status", "zero-times", "negative-times", "negative-latency"],
)
def test_nonsense_faults_are_refused(emu: Emulator, call: object) -> None:
    with pytest.raises(ValueError):
        call(emu)  # type: ignore[operator]
    assert emu.faults.pending == 0


def test_reset_forgets_pending_faults(emu: Emulator, client: openai.OpenAI) -> None:
    emu.fail_next(5)
    emu.reset()

    client.with_options(max_retries=0).beta.threads.create()
