"""Server mode: the API over real HTTP (uvicorn on a free loopback port), the ASGI app, the
command line, and API keys (`require_key`, `isolate_keys`)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Run

from emulator import Emulator, RealClock, Script, default_responder, reply
from emulator.http import server as server_module
from emulator.http.faults import ConnectionDropped, RequestTimedOut
from emulator.http.server import (
    ThreadedServer,
    build_emulator,
    build_parser,
    is_loopback,
    load_responder,
    main,
)

FIXTURES = Path(__file__).resolve().parent.parent / "emulator" / "examples"
TOOLS: list[Any] = [{"type": "function", "function": {"name": "lookup_order"}}]


@pytest.fixture
def server(assistants_emulator_server: ThreadedServer) -> ThreadedServer:
    return assistants_emulator_server


@pytest.fixture
def http_client(server: ThreadedServer) -> Iterator[openai.OpenAI]:
    """An SDK client talking HTTP to the server, validating every response."""
    with openai.OpenAI(
        api_key="sk-test", base_url=server.base_url, _strict_response_validation=True
    ) as sdk:
        yield sdk


# --- the API over HTTP -----------------------------------------------------------------------


def test_the_sdk_works_over_http(
    emu: Emulator, server: ThreadedServer, http_client: openai.OpenAI
) -> None:
    emu.script(reply.tool_call("lookup_order", {"id": "7"}), "Order 7 has shipped.")
    bot = http_client.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    thread = http_client.beta.threads.create(messages=[{"role": "user", "content": "Order 7?"}])

    run = http_client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    run = http_client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call.id, "output": "ok"}]
    )
    messages = http_client.beta.threads.messages.list(thread.id)

    assert run.status == "completed"
    assert messages.data[0].content[0].text.value == "Order 7 has shipped."  # type: ignore[union-attr]
    assert emu.requests[0].url == f"{server.base_url}/assistants"
    assert {r.path for r in emu.requests} >= {
        "/assistants",
        "/threads",
        f"/threads/{thread.id}/runs",
    }


def test_a_streamed_run_over_http(emu: Emulator, http_client: openai.OpenAI) -> None:
    emu.script(reply.text("Hello over the wire.", chunks=["Hello", " over", " the", " wire."]))
    bot = http_client.beta.assistants.create(model="gpt-4o")
    thread = http_client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    with http_client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=bot.id) as stream:
        events = [event.event for event in stream]
        final = stream.get_final_messages()

    assert events[0] == "thread.run.created" and events[-1] == "thread.run.completed"
    assert events.count("thread.message.delta") == 4
    assert final[0].content[0].text.value == "Hello over the wire."  # type: ignore[union-attr]
    Run.model_validate(emu.runs(thread.id)[0])


def asgi_call(emu: Emulator, method: str, path: str, body: Any) -> list[dict[str, Any]]:
    """Call the emulator's ASGI app directly, as a server would; the messages it sends."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"authorization", b"Bearer k"), (b"host", b"emulator.test")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(emu.asgi_app()(scope, receive, send))
    return sent


def test_sse_events_go_out_a_chunk_per_run_transition(emu: Emulator) -> None:
    """Each transition's events are one body chunk, sent as the run moves (not one body)."""
    emu.script(reply.text("a b c", chunks=["a", " b", " c"]))
    created = asgi_call(emu, "POST", "/v1/assistants", {"model": "gpt-4o"})
    assistant_id = json.loads(created[1]["body"])["id"]
    thread = {"messages": [{"role": "user", "content": "Hi"}]}

    sent = asgi_call(
        emu,
        "POST",
        "/v1/threads/runs",
        {"assistant_id": assistant_id, "thread": thread, "stream": True},
    )

    start, *chunks, end = sent
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert all(c["more_body"] and c["body"].startswith(b"event: ") for c in chunks)
    assert chunks[-1]["body"] == b"event: done\ndata: [DONE]\n\n"
    events = [line for c in chunks for line in c["body"].split(b"\n") if line.startswith(b"event:")]
    assert events.count(b"event: thread.message.delta") == 3
    assert events[0] == b"event: thread.created" and len(chunks) > 3  # run.created, queued, ...
    assert end == {"type": "http.response.body", "body": b""}


def test_a_threaded_server_starts_and_stops_cleanly() -> None:
    emu = Emulator()
    with ThreadedServer(emu) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert httpx.get(
            f"{server.base_url}/assistants", headers={"authorization": "Bearer k"}
        ).is_success

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/assistants")
    assert f"emulator-server-{server.port}" not in [t.name for t in threading.enumerate()]
    assert [r.status for r in emu.requests] == [200]


def test_only_the_v1_prefix_is_served(server: ThreadedServer) -> None:
    response = httpx.get(f"{server.url}/assistants", headers={"authorization": "Bearer k"})

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (GET /assistants)"


# --- faults over HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "error"),
    [
        (429, 2.0, openai.RateLimitError),
        (500, None, openai.InternalServerError),
        (503, None, openai.InternalServerError),
    ],
)
def test_status_faults_over_http_meet_the_sdk_retries(
    emu: Emulator,
    http_client: openai.OpenAI,
    sleeps: list[float],
    status: int,
    retry_after: float | None,
    error: type[openai.APIStatusError],
) -> None:
    emu.fail_next(2, status=status, retry_after=retry_after)
    thread = http_client.beta.threads.create()
    emu.fail_next(3, status=status, retry_after=retry_after)

    with pytest.raises(error):
        http_client.beta.threads.create()

    assert [r.headers["x-stainless-retry-count"] for r in emu.requests] == ["0", "1", "2"] * 2
    assert [r.status for r in emu.requests] == [status, status, 200, status, status, status]
    assert list(emu.threads) == [thread.id]
    if retry_after is not None:
        assert sleeps == [retry_after] * 4


def test_a_dropped_connection_closes_without_a_response(
    emu: Emulator, server: ThreadedServer
) -> None:
    emu.drop_next()

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.post(f"{server.base_url}/threads", headers={"authorization": "Bearer k"})

    assert emu.threads == {}
    assert httpx.get(
        f"{server.base_url}/assistants", headers={"authorization": "Bearer k"}
    ).is_success


def test_dropped_connections_over_http_meet_the_sdk_retries(
    emu: Emulator, http_client: openai.OpenAI, sleeps: list[float]
) -> None:
    emu.drop_next(2)
    http_client.beta.assistants.create(model="gpt-4o")
    emu.drop_next(3)

    with pytest.raises(openai.APIConnectionError) as raised:
        http_client.beta.assistants.create(model="gpt-4o")

    assert type(raised.value) is openai.APIConnectionError
    assert [r.status for r in emu.requests] == [None, None, 200, None, None, None]
    assert len(emu.assistants) == 1


def test_a_timeout_over_http_is_the_sdk_timeout(emu: Emulator, http_client: openai.OpenAI) -> None:
    emu.timeout_next()
    impatient = http_client.with_options(timeout=0.2, max_retries=0)

    with pytest.raises(openai.APITimeoutError):
        impatient.beta.threads.create()

    assert emu.threads == {}
    assert impatient.beta.threads.create().id in emu.threads  # the server is still serving


# --- the ASGI app in-process -----------------------------------------------------------------


def asgi_client(emu: Emulator, *, root_path: str = "") -> openai.AsyncOpenAI:
    """An async SDK client on `httpx.ASGITransport` (or httpx2's, for the SDK that uses it)."""
    library: Any = httpx
    if openai.__version__.startswith("3."):
        import httpx2

        library = httpx2
    transport = library.ASGITransport(app=emu.asgi_app(), root_path=root_path)
    return openai.AsyncOpenAI(
        api_key="sk-test",
        base_url=f"http://emulator.test{root_path}/v1",
        http_client=library.AsyncClient(transport=transport),
        _strict_response_validation=True,
    )


@pytest.mark.parametrize("root_path", ["", "/mounted/openai"])
def test_the_asgi_app_serves_the_sdk_in_process(root_path: str) -> None:
    emu = Emulator()  # not started: nothing is intercepted, the transport is the app
    emu.script("Hi from ASGI.")
    client = asgi_client(emu, root_path=root_path)

    async def conversation() -> list[str]:
        bot = await client.beta.assistants.create(model="gpt-4o")
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=bot.id
        ) as stream:
            await stream.until_done()
        messages = await client.beta.threads.messages.list(thread.id)
        return [m.content[0].text.value for m in messages.data]  # type: ignore[union-attr]

    assert asyncio.run(conversation()) == ["Hi from ASGI.", "Hi"]
    assert emu.requests[0].path == "/assistants"
    Assistant.model_validate(next(iter(emu.assistants.values())))


def test_the_asgi_app_waits_the_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    emu = Emulator()
    emu.latency = 0.75
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("emulator.http.asgi.anyio.sleep", sleep)
    asyncio.run(asgi_client(emu).beta.threads.create())

    assert waits == [0.75]


@pytest.mark.parametrize(
    ("inject", "error"), [("drop_next", ConnectionDropped), ("timeout_next", RequestTimedOut)]
)
def test_without_a_server_network_faults_are_raised_by_the_app(
    inject: str, error: type[Exception]
) -> None:
    emu = Emulator()
    getattr(emu, inject)()

    with pytest.raises(error):
        asgi_call(emu, "POST", "/v1/threads", {})
    assert emu.threads == {}


# --- API keys --------------------------------------------------------------------------------


@pytest.mark.assistants_emulator(require_key="sk-right-key-1234")
def test_require_key_rejects_other_keys_with_the_real_401(emu: Emulator) -> None:
    wrong = openai.OpenAI(api_key="sk-wrong-key-5678")

    with pytest.raises(openai.AuthenticationError) as raised:
        wrong.beta.assistants.list()

    assert raised.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-" in str(raised.value)
    assert "wrong-key" not in str(raised.value) and "5678" in str(raised.value)
    assert len(emu.requests) == 1  # a 401 is not retried
    assert openai.OpenAI(api_key="sk-right-key-1234").beta.assistants.list().data == []


@dataclass
class AliceObjects:
    assistant: str
    thread: str
    message: str
    run: str
    step: str
    call: str


BOB_CALLS: dict[str, Callable[[openai.OpenAI, AliceObjects], object]] = {
    "retrieve assistant": lambda bob, a: bob.beta.assistants.retrieve(a.assistant),
    "update assistant": lambda bob, a: bob.beta.assistants.update(a.assistant, name="mine"),
    "delete assistant": lambda bob, a: bob.beta.assistants.delete(a.assistant),
    "retrieve thread": lambda bob, a: bob.beta.threads.retrieve(a.thread),
    "update thread": lambda bob, a: bob.beta.threads.update(a.thread, metadata={"k": "v"}),
    "delete thread": lambda bob, a: bob.beta.threads.delete(a.thread),
    "create message": lambda bob, a: bob.beta.threads.messages.create(
        a.thread, role="user", content="hi"
    ),
    "list messages": lambda bob, a: bob.beta.threads.messages.list(a.thread),
    "retrieve message": lambda bob, a: bob.beta.threads.messages.retrieve(
        a.message, thread_id=a.thread
    ),
    "update message": lambda bob, a: bob.beta.threads.messages.update(
        a.message, thread_id=a.thread, metadata={"k": "v"}
    ),
    "delete message": lambda bob, a: bob.beta.threads.messages.delete(
        a.message, thread_id=a.thread
    ),
    "create run on her thread": lambda bob, a: bob.beta.threads.runs.create(
        a.thread, assistant_id=a.assistant
    ),
    "create run with her assistant": lambda bob, a: bob.beta.threads.runs.create(
        bob.beta.threads.create().id, assistant_id=a.assistant
    ),
    "create thread and run": lambda bob, a: bob.beta.threads.create_and_run(
        assistant_id=a.assistant
    ),
    "list runs": lambda bob, a: bob.beta.threads.runs.list(a.thread),
    "retrieve run": lambda bob, a: bob.beta.threads.runs.retrieve(a.run, thread_id=a.thread),
    "update run": lambda bob, a: bob.beta.threads.runs.update(
        a.run, thread_id=a.thread, metadata={"k": "v"}
    ),
    "cancel run": lambda bob, a: bob.beta.threads.runs.cancel(a.run, thread_id=a.thread),
    "submit tool outputs": lambda bob, a: bob.beta.threads.runs.submit_tool_outputs(
        a.run, thread_id=a.thread, tool_outputs=[{"tool_call_id": a.call, "output": "x"}]
    ),
    "list steps": lambda bob, a: bob.beta.threads.runs.steps.list(a.run, thread_id=a.thread),
    "retrieve step": lambda bob, a: bob.beta.threads.runs.steps.retrieve(
        a.step, thread_id=a.thread, run_id=a.run
    ),
}


@pytest.fixture
def alice_objects(emu: Emulator) -> AliceObjects:
    """Alice's assistant and thread, with a run waiting for a tool output."""
    alice = openai.OpenAI(api_key="sk-alice")
    bot = alice.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    emu.script(reply.tool_call("lookup_order"), assistant=bot.id)
    thread = alice.beta.threads.create(messages=[{"role": "user", "content": "Order?"}])
    run = alice.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    (step,) = emu.steps(run.id)
    message = emu.messages(thread.id)[0]["id"]
    return AliceObjects(bot.id, thread.id, message, run.id, step["id"], call.id)


@pytest.mark.assistants_emulator(isolate_keys=True)
@pytest.mark.parametrize("call", list(BOB_CALLS.values()), ids=list(BOB_CALLS))
def test_isolated_keys_cannot_see_or_touch_each_others_objects(
    emu: Emulator,
    alice_objects: AliceObjects,
    call: Callable[[openai.OpenAI, AliceObjects], object],
) -> None:
    alice = alice_objects
    before = (emu.assistants, emu.threads, emu.messages(alice.thread), emu.runs(alice.thread))
    bob = openai.OpenAI(api_key="sk-bob")

    with pytest.raises(openai.NotFoundError, match=r"No (assistant|thread) found with id"):
        call(bob, alice)

    assert emu.assistants == before[0]
    assert {k: v for k, v in emu.threads.items() if k in before[1]} == before[1]
    assert (emu.messages(alice.thread), emu.runs(alice.thread)) == before[2:]
    assert emu.check_invariants() == []


@pytest.mark.assistants_emulator(isolate_keys=True)
def test_isolated_keys_each_list_their_own_assistants(
    emu: Emulator, alice_objects: AliceObjects
) -> None:
    alice, bob = openai.OpenAI(api_key="sk-alice"), openai.OpenAI(api_key="sk-bob")
    bobs = bob.beta.assistants.create(model="gpt-4o", name="Bob's")
    bobs_thread = bob.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])

    assert [a.id for a in alice.beta.assistants.list().data] == [alice_objects.assistant]
    assert [a.id for a in bob.beta.assistants.list().data] == [bobs.id]
    assert (
        bob.beta.threads.runs.create_and_poll(thread_id=bobs_thread.id, assistant_id=bobs.id).status
        == "completed"
    )
    assert (
        alice.beta.threads.runs.retrieve(alice_objects.run, thread_id=alice_objects.thread).status
        == "requires_action"
    )
    with pytest.raises(openai.NotFoundError):
        alice.beta.threads.messages.list(bobs_thread.id)


def test_without_isolation_every_key_sees_everything(alice_objects: AliceObjects) -> None:
    bob = openai.OpenAI(api_key="sk-bob")

    assert bob.beta.threads.retrieve(alice_objects.thread).id == alice_objects.thread
    assert [a.id for a in bob.beta.assistants.list().data] == [alice_objects.assistant]


@pytest.mark.assistants_emulator(require_key="sk-server", isolate_keys=True)
def test_key_options_apply_over_http(server: ThreadedServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="sk-other", base_url=server.base_url).beta.threads.create()

    thread = openai.OpenAI(api_key="sk-server", base_url=server.base_url).beta.threads.create()
    Thread.model_validate(thread.model_dump())


# --- command line ----------------------------------------------------------------------------


def test_the_command_line_serves_until_ctrl_c() -> None:
    command = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--clock", "frozen"]
    command += ["--fixture", str(FIXTURES / "support_bot_expired.json")]
    command += ["--responder", str(FIXTURES / "support_bot_retry_script.json")]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        banner = ""
        while "serving on" not in banner:
            banner = process.stderr.readline()  # type: ignore[union-attr]
            assert banner, "the server exited before serving"
        base_url = banner.split("serving on ")[1].split()[0]
        client = openai.OpenAI(api_key="sk-any", base_url=base_url)
        (bot,) = client.beta.assistants.list().data  # from the fixture
        run = client.beta.threads.create_and_run_poll(
            assistant_id=bot.id, thread={"messages": [{"role": "user", "content": "Ticket?"}]}
        )
        assert (bot.name, run.status, run.last_error.code) == (  # type: ignore[union-attr]
            "Support bot",
            "failed",
            "rate_limit_exceeded",
        )
    finally:
        process.send_signal(signal.SIGINT)
        _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert '"POST /v1/threads/runs" 200' in log
    assert "Traceback" not in log
    assert log.rstrip().endswith("Assistants emulator stopped.")


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])

    assert exited.value.code == 0
    usage = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--seed",
        "--responder",
        "--fixture",
        "--require-key",
        "--isolate-keys",
        "--allow-remote",
        "--clock",
        "--progress",
        "--log-level",
    ):
        assert option in usage


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_binding_beyond_loopback_needs_allow_remote(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--host", host])

    assert exited.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err
    with pytest.raises(ValueError, match="allow_remote"):
        ThreadedServer(Emulator(), host=host)


def test_allow_remote_binds_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bound: list[str] = []
    real_bind = server_module.bind

    def bind_loopback(host: str, port: int) -> socket.socket:
        bound.append(host)
        return real_bind("127.0.0.1", 0)  # no test listens beyond loopback

    def ctrl_c(self: object, sockets: object = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module, "bind", bind_loopback)
    monkeypatch.setattr(server_module._Uvicorn, "run", ctrl_c)

    assert main(["serve", "--host", "0.0.0.0", "--allow-remote"]) == 0
    assert bound == ["0.0.0.0"]
    assert "WARNING: serving on 0.0.0.0" in capsys.readouterr().err


def test_the_options_configure_the_emulator(tmp_path: Path) -> None:
    defaults = build_emulator(build_parser().parse_args([]))
    assert isinstance(defaults.clock, RealClock)
    assert defaults.settings.required_key is None and not defaults.settings.isolate_keys

    arguments = ["--seed", "42", "--clock", "frozen", "--progress", "step"]
    arguments += ["--require-key", "sk-x", "--isolate-keys"]
    arguments += ["--fixture", str(FIXTURES / "support_bot_expired.json")]
    arguments += ["--responder", str(FIXTURES / "support_bot_script.json")]
    emu = build_emulator(build_parser().parse_args(arguments))

    assert (emu.settings.required_key, emu.settings.isolate_keys) == ("sk-x", True)
    assert emu.progress == "step"
    assert isinstance(emu.settings.responder, Script)
    assert (
        emu.snapshot()["clock"]
        == json.loads((FIXTURES / "support_bot_expired.json").read_text())["clock"]
    )
    seeded = build_emulator(build_parser().parse_args(["--seed", "42"]))
    assert seeded.backend.ids.new("asst") == Emulator(seed=42).backend.ids.new("asst")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_responder_option_loads_scripts_and_callables() -> None:
    script = load_responder(str(FIXTURES / "support_bot_script.json"))

    assert isinstance(script, Script) and script.remaining == 4
    assert load_responder("emulator:default_responder") is default_responder
    assert load_responder("default") is default_responder


@pytest.mark.parametrize("spec", ["no-such-file", "emulator:FORMAT_NOPE", "emulator:__doc__"])
def test_a_bad_responder_option_is_refused(spec: str) -> None:
    with pytest.raises((ValueError, AttributeError)):
        load_responder(spec)
