"""Server mode under pressure: a bounded request log, the body limit enforced while reading,
text length limits, snapshots refused whole, escaped log lines, isolated list cursors, and
requests whose client left during injected latency."""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from emulator import Emulator, reply
from emulator.http.asgi import escape
from emulator.http.routes.base import MAX_BODY_BYTES
from emulator.http.server import (
    REQUEST_LOG,
    REQUEST_LOG_BODY,
    ThreadedServer,
    build_emulator,
    build_parser,
    main,
)
from emulator.state.snapshot import SnapshotError

FORTY_MB = 40 * 1024 * 1024


@pytest.fixture
def server(assistants_emulator_server: ThreadedServer) -> ThreadedServer:
    return assistants_emulator_server


# --- the request log -------------------------------------------------------------------------


def test_a_bounded_log_keeps_the_newest_requests_and_the_start_of_bodies() -> None:
    with Emulator(request_log=3, request_log_body=16) as emu:
        client = openai.OpenAI(api_key="sk-test")
        for n in range(5):
            client.beta.assistants.create(model="gpt-4o", name=f"bot {n}" * 10)

        logged = emu.requests

    assert len(logged) == 3
    assert [json.loads(r.body + b'"}')["model"] for r in logged] == ["gpt-4o"] * 3
    assert all(len(r.body) == 16 and r.body_cut for r in logged)
    assert [r.body_size for r in logged] == [
        len(json.dumps({"model": "gpt-4o", "name": f"bot {n}" * 10}, separators=(",", ":")))
        for n in (2, 3, 4)
    ]


def test_in_process_the_log_keeps_everything_by_default(
    emu: Emulator, client: openai.OpenAI
) -> None:
    for _ in range(3):
        client.beta.assistants.create(model="gpt-4o", instructions="x" * 100_000)

    assert len(emu.requests) == 3
    assert all(not r.body_cut and r.json()["instructions"] == "x" * 100_000 for r in emu.requests)


def test_the_bounds_can_change_at_any_time(emu: Emulator, client: openai.OpenAI) -> None:
    client.beta.assistants.list()
    emu.settings.request_log = 1
    client.beta.assistants.list()
    client.beta.threads.create()

    assert [r.path for r in emu.requests] == ["/threads"]


@pytest.mark.parametrize("bound", [-1, True])
def test_a_bound_is_a_count(bound: int) -> None:
    with pytest.raises(ValueError, match="request_log is a count"):
        Emulator(request_log=bound)


def test_serve_bounds_the_log_and_the_options_change_it() -> None:
    served = build_emulator(build_parser().parse_args([]))
    assert (served.settings.request_log, served.settings.request_log_body) == (
        REQUEST_LOG,
        REQUEST_LOG_BODY,
    )
    arguments = ["--request-log", "5", "--request-log-body", "0"]
    tuned = build_emulator(build_parser().parse_args(arguments))
    assert (tuned.settings.request_log, tuned.settings.request_log_body) == (5, 0)


def test_rejected_bodies_over_http_keep_only_their_start(server: ThreadedServer) -> None:
    server.emulator = Emulator(request_log=2, request_log_body=1024)
    body = b'{"model": "' + b"x" * (2 * 1024 * 1024) + b'", "surprise": 1}'
    with httpx.Client(base_url=server.base_url) as http:
        statuses = [
            http.post("/assistants", content=body, headers={"authorization": "Bearer sk-t"})
            for _ in range(3)
        ]
        unauthenticated = http.post("/assistants", content=body)

    assert [r.status_code for r in statuses] == [400] * 3
    assert unauthenticated.status_code == 401
    logged = server.emulator.requests
    assert [r.status for r in logged] == [400, 401]
    assert all(len(r.body) == 1024 and r.body_size == len(body) for r in logged)


# --- the body limit, enforced while reading --------------------------------------------------


def _send_until_answered(
    port: int, head: bytes, pieces: Iterator[bytes]
) -> tuple[bytes, int, bool]:
    """Send the head, then body pieces while watching for an answer; returns the answer (read
    until the server closes), how many body bytes went out, and whether the body was all sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head)
    sent, answer, finished = 0, b"", True
    try:
        for piece in pieces:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                finished = False
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                finished = False
                break
            sent += len(piece)
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return answer, sent, finished


def _envelope(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert b"connection: close" in head.lower()
    error: dict[str, Any] = json.loads(body)["error"]
    return error


def test_a_body_announced_too_large_is_refused_before_it_is_read(server: ThreadedServer) -> None:
    head = (
        b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-t\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % FORTY_MB
    )
    pieces = (b"x" * 65536 for _ in range(FORTY_MB // 65536))

    answer, sent, finished = _send_until_answered(server.port, head, pieces)

    assert not finished and sent < FORTY_MB // 4
    error = _envelope(answer)
    assert (error["type"], error["code"]) == ("invalid_request_error", "request_too_large")
    assert str(MAX_BODY_BYTES) in error["message"]
    assert httpx.get(
        f"{server.base_url}/assistants", headers={"authorization": "Bearer k"}
    ).is_success


def test_a_chunked_body_is_cut_off_at_the_limit(server: ThreadedServer) -> None:
    head = b"POST /_emulator/snapshot HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"100000\r\n" + b" " * 0x100000 + b"\r\n"  # 1 MB per chunk, 40 of them
    pieces = iter([piece] * 40 + [b"0\r\n\r\n"])

    answer, sent, finished = _send_until_answered(server.port, head, pieces)

    assert not finished and sent < len(piece) * 40
    assert _envelope(answer)["code"] == "request_too_large"
    assert server.emulator.requests == []


# --- text limits -----------------------------------------------------------------------------


def _call(client: openai.OpenAI, what: str, text: str, ids: dict[str, str]) -> object:
    threads, runs = client.beta.threads, client.beta.threads.runs
    if what == "content":
        return threads.messages.create(ids["thread"], role="user", content=text)
    if what == "content[0].text":
        part: Any = [{"type": "text", "text": text}]
        return threads.messages.create(ids["thread"], role="user", content=part)
    if what in ("instructions", "additional_instructions"):
        return runs.create(thread_id=ids["thread"], assistant_id=ids["assistant"], **{what: text})
    assert what == "tool_outputs[0].output"
    return runs.submit_tool_outputs(
        run_id=ids["run"],
        thread_id=ids["waiting"],
        tool_outputs=[{"tool_call_id": ids["call"], "output": text}],
    )


@pytest.mark.parametrize(
    ("param", "limit"),
    [
        ("content", 256_000),
        ("content[0].text", 256_000),
        ("instructions", 256_000),
        ("additional_instructions", 256_000),
        ("tool_outputs[0].output", 512_000),
    ],
)
def test_text_limits(emu: Emulator, client: openai.OpenAI, param: str, limit: int) -> None:
    emu.script(reply.tool_call("f"), "done", "done")
    tools: Any = [{"type": "function", "function": {"name": "f"}}]
    bot = client.beta.assistants.create(model="gpt-4o", tools=tools)
    waiting = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=waiting.id, assistant_id=bot.id)
    call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    ids = {"assistant": bot.id, "thread": thread.id, "waiting": waiting.id, "run": run.id}
    ids["call"] = call.id
    before = {**emu.snapshot(), "ids": None}  # request ids move on; nothing else may

    with pytest.raises(openai.BadRequestError) as refused:
        _call(client, param, "x" * (limit + 1), ids)

    assert refused.value.body == {
        "message": f"Invalid '{param}': string too long. Expected a string with maximum length "
        f"{limit}, but got a string with length {limit + 1} instead.",
        "type": "invalid_request_error",
        "param": param,
        "code": "string_above_max_length",
    }
    assert {**emu.snapshot(), "ids": None} == before
    _call(client, param, "x" * limit, ids)  # at the limit: accepted


# --- snapshots: refused whole ----------------------------------------------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


BAD_FILES = {
    "bad JSON": lambda good: "{not json",
    "truncated": lambda good: good[: len(good) // 2],
    "NaN": lambda good: good.replace('"gauss": null', '"gauss": NaN', 1),
    "Infinity now": lambda good: good.replace('"now": ', '"now": Infinity, "was": ', 1),
    "huge now": lambda good: good.replace('"now": ', '"now": 1e999, "was": ', 1),
    "100k deep": lambda good: good.replace('"owners": {', f'"owners": {{"x": {_deep(100_000)},', 1),
    "not UTF-8": lambda good: good.replace("gpt-4o", "gpt-4\udcff", 1),
    "tools a string": lambda good: good.replace('"tools": [', '"tools": "abc", "was": [', 1),
    "tool_resources a list": lambda good: good.replace(
        '"tool_resources": {', '"tool_resources": [], "was": {', 1
    ),
}


@pytest.fixture
def good_snapshot(emu: Emulator, client: openai.OpenAI) -> str:
    client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    return json.dumps(emu.snapshot(), indent=2)


@pytest.mark.parametrize("damage", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_snapshot_file_raises_snapshot_error_and_changes_nothing(
    emu: Emulator, good_snapshot: str, tmp_path: Path, damage: Any
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(damage(good_snapshot), encoding="utf-8", errors="surrogateescape")
    emu.clock.advance(seconds=5)
    before = emu.snapshot()

    with pytest.raises(SnapshotError) as refused:
        emu.load(path)

    assert "\n" not in str(refused.value)
    assert emu.snapshot() == before


@pytest.mark.parametrize("damage", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_serve_with_a_bad_fixture_says_so_in_one_line(
    good_snapshot: str, tmp_path: Path, damage: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(damage(good_snapshot), encoding="utf-8", errors="surrogateescape")

    assert main(["serve", "--port", "0", "--fixture", str(path)]) == 2

    err = capsys.readouterr().err
    assert err.startswith("assistants-emulator: error: --fixture ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_fixture_is_a_snapshot_error(emu: Emulator, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        emu.load(tmp_path / "nowhere.json")


# --- smaller holes ---------------------------------------------------------------------------


def test_log_lines_escape_control_characters() -> None:
    assert escape('/v1/a\r\n127.0.0.1 "GET /x" 200\x1b[31m\u2028\\') == (
        '/v1/a\\x0d\\x0a127.0.0.1 "GET /x" 200\\x1b[31m\\u2028\\\\'
    )


def test_a_path_cannot_forge_a_log_line(
    server: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    logged = threading.Event()
    handler = logging.Handler()  # after caplog's on the root logger: set once caplog has it
    handler.emit = lambda record: logged.set() if record.name == "emulator.server" else None  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="emulator.server"):
            httpx.get(f"{server.url}/v1/assistants%0D%0A1.2.3.4%20%22GET%20/v1/x%22%20200")
            assert logged.wait(timeout=10)  # the line is written just after the answer is sent
    finally:
        logging.getLogger().removeHandler(handler)

    (line,) = [r.getMessage() for r in caplog.records if r.name == "emulator.server"]
    assert "\r" not in line and "\n" not in line
    # The target is logged as sent (the raw path: ids are decoded per segment, issue 11).
    assert "/v1/assistants%0D%0A1.2.3.4" in line


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("cursor", ["after", "before"])
def test_another_keys_id_as_a_cursor_is_an_unknown_id(cursor: str, order: str) -> None:
    with Emulator(isolate_keys=True):
        alice = openai.OpenAI(api_key="sk-alice")
        bob = openai.OpenAI(api_key="sk-bob")
        bob.beta.assistants.create(model="gpt-4o")
        hers = [alice.beta.assistants.create(model="gpt-4o") for _ in range(2)]
        bob.beta.assistants.create(model="gpt-4o")

        def page(cursor_id: str) -> object:
            options: Any = {cursor: cursor_id, "order": order}
            return bob.beta.assistants.with_raw_response.list(**options).http_response.json()

        for assistant in hers:
            assert page(assistant.id) == page("asst_" + "0" * 24)


class _Seen(logging.Handler):
    """Sets `event` when a log line contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_a_client_gone_during_latency_is_not_processed(server: ThreadedServer) -> None:
    emu = server.emulator
    emu.latency = 0.5
    seen = _Seen("client left during latency")
    logger = logging.getLogger("emulator.server")
    logger.addHandler(seen)
    logger.setLevel(logging.INFO)
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{server.base_url}/assistants",
                json={"model": "gpt-4o"},
                headers={"authorization": "Bearer sk-t"},
                timeout=httpx.Timeout(5, read=0.05),
            )
        assert seen.event.wait(10)
    finally:
        logger.removeHandler(seen)
        logger.setLevel(logging.NOTSET)

    assert (emu.assistants, emu.requests) == ({}, [])
    emu.latency = 0
    started = time.perf_counter()
    created = httpx.post(
        f"{server.base_url}/assistants",
        json={"model": "gpt-4o"},
        headers={"authorization": "Bearer sk-t"},
    )
    assert created.is_success and time.perf_counter() - started < 5
    assert list(emu.assistants) == [created.json()["id"]]


# --- the load script -------------------------------------------------------------------------


def test_the_load_script_measures_a_real_server_and_stops_by_itself() -> None:
    from benchmarks import load

    figures = load.measure(requests=300, clients=4, seconds=30)

    assert figures["requests"] == 300 and figures["errors"] == 0
    assert figures["requests_per_second"] > 0 and figures["get_p99_ms"] > 0
    assert "throughput" in load.render(figures)
