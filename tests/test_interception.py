"""Interception: which requests the emulator answers, and which it leaves alone.

`with Emulator():` answers every httpx and httpx2 request under its base URLs, sync and async,
from the official SDK (2.x sends through httpx, 3.x through httpx2) or from plain code, with no
custom client. Everything else reaches the original transport untouched; to prove that without
a network, `upstream` replaces the transports' network layer with a recorder *before* any
emulator starts, so the emulator's pass-through lands there.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import httpx2
import openai
import pytest
import respx

from emulator import Emulator
from emulator.adapters.registry import BaseURLInUseError

AUTH = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"}
API = "https://api.openai.com/v1"
Send = Callable[[str, str], Awaitable[tuple[int, str]]]


@dataclass
class Upstream:
    """What reached the (stubbed) network: one entry per request, in order."""

    urls: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[Upstream]:
    """The network, stubbed: every request that reaches it is recorded and answered `upstream`."""
    seen = Upstream()

    # Named like the methods they replace: respx only wraps methods with those names.
    def handle_request(self: object, request: Any) -> Any:
        library = httpx2 if isinstance(request, httpx2.Request) else httpcore
        if library is httpx2:
            seen.urls.append(str(request.url))
            seen.bodies.append(request.content)
            seen.headers.append(dict(request.headers))
        else:  # httpcore: raw URL parts, raw header pairs, the body as a byte stream
            url = request.url
            seen.urls.append(f"{url.scheme.decode()}://{url.host.decode()}{url.target.decode()}")
            seen.bodies.append(b"".join(request.stream))
            seen.headers.append({k.decode().lower(): v.decode() for k, v in request.headers})
        return library.Response(200, content=b"upstream")

    async def handle_async_request(self: object, request: Any) -> Any:
        return handle_request(self, request)

    # httpx's network layer is httpcore (where respx hooks in); httpx2's is its transport.
    monkeypatch.setattr(httpcore.ConnectionPool, "handle_request", handle_request)
    monkeypatch.setattr(httpcore.AsyncConnectionPool, "handle_async_request", handle_async_request)
    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle_request)
    monkeypatch.setattr(httpx2.AsyncHTTPTransport, "handle_async_request", handle_async_request)
    yield seen


def _sync(library: Any) -> Send:
    async def send(method: str, url: str) -> tuple[int, str]:
        with library.Client() as http:
            response = http.request(method, url, headers=AUTH, json={"model": "gpt-4o"})
            return response.status_code, response.text

    return send


def _async(library: Any) -> Send:
    async def send(method: str, url: str) -> tuple[int, str]:
        async with library.AsyncClient() as http:
            response = await http.request(method, url, headers=AUTH, json={"model": "gpt-4o"})
            return response.status_code, response.text

    return send


PLAIN_CLIENTS = {
    "httpx.Client": _sync(httpx),
    "httpx.AsyncClient": _async(httpx),
    "httpx2.Client": _sync(httpx2),
    "httpx2.AsyncClient": _async(httpx2),
}
plain_clients = pytest.mark.parametrize("send", PLAIN_CLIENTS.values(), ids=PLAIN_CLIENTS.keys())


# --- what is intercepted ---------------------------------------------------------------------


@pytest.mark.anyio
@plain_clients
async def test_plain_clients_are_answered(send: Send, upstream: Upstream) -> None:
    with Emulator() as emu:
        status, _ = await send("POST", f"{API}/assistants")
        assert status == 200
        [assistant] = emu.assistants.values()
        status, text = await send("GET", f"{API}/assistants/{assistant['id']}")

    assert status == 200
    assert assistant["id"] in text
    assert [r.path for r in emu.requests] == ["/assistants", f"/assistants/{assistant['id']}"]
    assert upstream.urls == []


def test_default_sdk_client_is_answered(emu: Emulator, client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")

    assert client.beta.assistants.retrieve(assistant.id) == assistant
    sent = emu.requests[0]
    assert (sent.method, sent.path, sent.json()) == ("POST", "/assistants", {"model": "gpt-4o"})
    assert sent.headers["user-agent"] == f"OpenAI/Python {openai.__version__}"
    # 3.x sends through httpx2, 2.x through httpx: either way the emulator answered.
    library = httpx2 if openai.__version__.startswith("3.") else httpx
    assert isinstance(client._client, library.Client)


@pytest.mark.anyio
async def test_default_async_sdk_client_is_answered(
    emu: Emulator, async_client: openai.AsyncOpenAI
) -> None:
    assistant = await async_client.beta.assistants.create(model="gpt-4o")

    assert (await async_client.beta.assistants.retrieve(assistant.id)).id == assistant.id
    assert [r.method for r in emu.requests] == ["POST", "GET"]
    assert emu.requests[0].headers["x-stainless-async"].startswith("async:")


def test_sdk_with_an_httpx_client_is_answered(emu: Emulator) -> None:
    """3.x still accepts a legacy httpx client; respx's side of the emulator answers it."""
    with openai.OpenAI(api_key="sk-test", http_client=httpx.Client()) as sdk:
        assistant = sdk.beta.assistants.create(model="gpt-4o", name="legacy")

    assert emu.assistants[assistant.id]["name"] == "legacy"


@pytest.mark.anyio
async def test_async_sdk_with_an_httpx_client_is_answered(emu: Emulator) -> None:
    async with openai.AsyncOpenAI(api_key="sk-test", http_client=httpx.AsyncClient()) as sdk:
        assistant = await sdk.beta.assistants.create(model="gpt-4o")

    assert list(emu.assistants) == [assistant.id]


# --- other base URLs -------------------------------------------------------------------------


def test_another_provider_base_url(upstream: Upstream) -> None:
    base_url = "https://api.aimlapi.com/v1"
    with Emulator(base_urls=[base_url]) as emu:
        sdk = openai.OpenAI(api_key="sk-test", base_url=base_url, max_retries=0)
        assistant = sdk.beta.assistants.create(model="gpt-4o")
        not_owned = httpx.get(f"{API}/assistants", headers=AUTH)

    assert list(emu.assistants) == [assistant.id]
    assert emu.requests[0].url == f"{base_url}/assistants"
    assert emu.requests[0].path == "/assistants"
    assert not_owned.text == "upstream"
    assert upstream.urls == [f"{API}/assistants"]


def test_azure_style_prefix_with_api_version() -> None:
    with Emulator(base_urls=["https://myres.openai.azure.com/openai"]) as emu:
        azure = openai.AzureOpenAI(
            azure_endpoint="https://myres.openai.azure.com",
            api_version="2024-05-01-preview",
            api_key="azure-key",
        )
        created = [azure.beta.assistants.create(model="gpt-4o").id for _ in range(3)]
        listed = [a.id for a in azure.beta.assistants.list(limit=2, order="asc")]

    assert listed == created
    first = emu.requests[0]
    assert first.path == "/assistants"
    assert first.query == [("api-version", "2024-05-01-preview")]
    assert first.headers["api-key"] == "azure-key"  # Azure's key header counts as the key
    assert ("after", created[1]) in emu.requests[-1].query


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/v1/assistants",
        "https://api.openai.com/v10/assistants",
        "https://api.openai.com/v1beta/assistants",
        "https://api.openai.com/other",
        "http://api.openai.com/v1/assistants",
    ],
)
@pytest.mark.anyio
@plain_clients
async def test_urls_the_emulator_does_not_own_pass_through(
    send: Send, url: str, upstream: Upstream
) -> None:
    with Emulator() as emu:
        status, text = await send("GET", url)

    assert (status, text) == (200, "upstream")
    assert upstream.urls == [url]
    assert upstream.bodies == [b'{"model":"gpt-4o"}']  # untouched
    assert upstream.headers[0]["authorization"] == AUTH["Authorization"]
    assert emu.requests == []


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_a_mock_transport_client_for_another_host_is_left_alone(
    emu: Emulator, library: Any
) -> None:
    transport = library.MockTransport(lambda request: library.Response(200, json={"mine": True}))

    with library.Client(transport=transport) as http:
        response = http.get("https://example.com/v1/assistants")

    assert response.json() == {"mine": True}
    assert emu.requests == []


# --- lifecycle -------------------------------------------------------------------------------


@pytest.mark.anyio
@plain_clients
async def test_start_and_stop_without_with(send: Send, upstream: Upstream) -> None:
    emu = Emulator()
    assert emu.start() is emu
    emu.start()  # starting twice is harmless
    status, _ = await send("POST", f"{API}/assistants")
    emu.stop()
    emu.stop()
    after_stop = await send("GET", f"{API}/assistants")

    assert status == 200
    assert after_stop == (200, "upstream")
    assert upstream.urls == [f"{API}/assistants"]
    assert len(emu.requests) == 1
    assert len(emu.assistants) == 1  # stopping keeps the state


def test_restart_after_stop_answers_again_with_the_same_state(upstream: Upstream) -> None:
    client = openai.OpenAI(api_key="sk-test", max_retries=0)
    emu = Emulator()
    with emu:
        assistant = client.beta.assistants.create(model="gpt-4o")
    with emu:
        assert client.beta.assistants.retrieve(assistant.id).id == assistant.id


@pytest.mark.anyio
async def test_async_with(upstream: Upstream) -> None:
    async with Emulator() as emu:
        sdk = openai.AsyncOpenAI(api_key="sk-test")
        await sdk.beta.threads.create()
    async with httpx2.AsyncClient() as http:
        after = await http.post(f"{API}/threads", headers=AUTH)

    assert len(emu.threads) == 1
    assert after.text == "upstream"


def test_stop_restores_the_original_transports() -> None:
    originals = (
        httpx2.HTTPTransport.handle_request,
        httpx2.AsyncHTTPTransport.handle_async_request,
        httpcore.ConnectionPool.handle_request,
        httpcore.AsyncConnectionPool.handle_async_request,
    )
    with Emulator():
        assert httpx2.HTTPTransport.handle_request is not originals[0]
    assert (
        httpx2.HTTPTransport.handle_request,
        httpx2.AsyncHTTPTransport.handle_async_request,
        httpcore.ConnectionPool.handle_request,
        httpcore.AsyncConnectionPool.handle_async_request,
    ) == originals


# --- living beside the user's own respx mocks ------------------------------------------------


@pytest.mark.parametrize("emulator_first", [True, False], ids=["emulator-first", "respx-first"])
def test_users_respx_mocks_keep_answering_their_hosts(emulator_first: bool) -> None:
    emulator = Emulator()
    users_mock = respx.mock(assert_all_called=True)
    users_mock.get("https://example.com/status").respond(200, json={"ok": True})
    starts = [emulator.start, users_mock.start]
    stops = [users_mock.stop, emulator.stop]
    if not emulator_first:
        starts.reverse()
        stops.reverse()
    for start in starts:
        start()
    try:
        assert httpx.get("https://example.com/status").json() == {"ok": True}
        answer = httpx.post(f"{API}/assistants", headers=AUTH, json={"model": "gpt-4o"})
        assert answer.json()["object"] == "assistant"
    finally:
        for stop in stops:
            stop()
    assert [r.path for r in emulator.requests] == ["/assistants"]


# --- several emulators: one registry ---------------------------------------------------------

BASES = {"a": "https://a.test/v1", "b": "https://b.test/v1"}
STOP_ORDERS = pytest.mark.parametrize(
    "stop_order", [("a", "b"), ("b", "a")], ids=["stop-a-first", "stop-b-first"]
)


@pytest.mark.anyio
@STOP_ORDERS
@plain_clients
async def test_two_emulators_on_their_own_base_urls_start_and_stop_in_any_order(
    send: Send, upstream: Upstream, stop_order: tuple[str, str]
) -> None:
    emulators = {name: Emulator(base_urls=[base]).start() for name, base in BASES.items()}
    try:
        for name in emulators:
            assert (await send("POST", f"{BASES[name]}/assistants"))[0] == 200
        first, second = stop_order
        emulators[first].stop()
        assert await send("POST", f"{BASES[first]}/assistants") == (200, "upstream")
        assert (await send("POST", f"{BASES[second]}/assistants"))[0] == 200
        emulators[second].stop()
        for base in BASES.values():
            assert await send("POST", f"{base}/assistants") == (200, "upstream")
    finally:
        for emulator in emulators.values():
            emulator.stop()

    assert {name: len(e.requests) for name, e in emulators.items()} == {
        first: 1,
        second: 2,
    }  # a stopped emulator answers nothing
    assert len(upstream.urls) == 3


@STOP_ORDERS
def test_the_sdk_talks_to_each_started_emulator(
    upstream: Upstream, stop_order: tuple[str, str]
) -> None:
    clients = {
        name: openai.OpenAI(api_key="sk-test", base_url=base, max_retries=0)
        for name, base in BASES.items()
    }
    emulators = {name: Emulator(base_urls=[base]).start() for name, base in BASES.items()}
    try:
        made = {name: client.beta.threads.create().id for name, client in clients.items()}
        first, second = stop_order
        emulators[first].stop()
        stopped = clients[first].beta.threads.with_raw_response.create()
        assert stopped.http_response.text == "upstream"
        assert clients[second].beta.threads.retrieve(made[second]).id == made[second]
    finally:
        for emulator in emulators.values():
            emulator.stop()

    assert {name: list(e.threads) for name, e in emulators.items()} == {
        name: [thread_id] for name, thread_id in made.items()
    }
    assert [len(emulators[name].requests) for name in stop_order] == [1, 2]


def test_the_transports_are_restored_after_the_last_of_two_stops() -> None:
    originals = (httpx2.HTTPTransport.handle_request, httpcore.ConnectionPool.handle_request)
    a, b = (Emulator(base_urls=[base]) for base in BASES.values())
    a.start()
    b.start()
    a.stop()
    assert httpx2.HTTPTransport.handle_request is not originals[0]
    b.stop()
    assert (httpx2.HTTPTransport.handle_request, httpcore.ConnectionPool.handle_request) == (
        originals
    )


@pytest.mark.parametrize(
    "second_base",
    [API, f"{API}/", "https://api.openai.com", f"{API}/threads"],
    ids=["same", "trailing-slash", "above", "below"],
)
def test_a_second_emulator_on_an_owned_base_url_is_refused(second_base: str) -> None:
    with Emulator() as first:
        second = Emulator(base_urls=[second_base])
        with pytest.raises(BaseURLInUseError, match=re.escape(second_base.rstrip("/"))):
            second.start()
        answer = httpx.post(f"{API}/threads", headers=AUTH)

    assert answer.status_code == 200
    assert len(first.threads) == 1 and second.requests == []
    second.stop()  # never started: nothing to do


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize("path", ["/models", "/assistants/asst_missing"], ids=["200", "404"])
def test_an_answer_is_the_response_content_would_build(library: Any, path: str) -> None:
    """The adapters build a whole body's response without reading it through the library's
    decoders; what the client sees is what `Response(content=...)` leaves."""
    with Emulator(), library.Client(headers=AUTH) as http:
        got = http.get(API + path)
    expected = library.Response(got.status_code, headers=got.headers, content=got.content)

    assert got.read() == expected.read() == got.content
    assert got.json() == expected.json()
    assert got.headers["content-length"] == str(len(got.content))
    assert got.headers.raw == library.Headers(dict(got.headers)).raw  # as the library makes them
    assert got.headers.encoding == "ascii"
    assert (got.is_closed, got.is_stream_consumed) == (expected.is_closed, True)
    assert b"".join(got.iter_bytes()) == got.content
    assert got.elapsed.total_seconds() >= 0  # raw SDK responses read `.elapsed`
