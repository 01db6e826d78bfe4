"""The control API under `/_emulator/` (clock, reset, script, snapshot, holds, faults, request
log, state view), over the ASGI app in-process and over a real loopback server, and its CLI."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from emulator import Emulator, ThreadedServer, reply
from emulator.http import control_cli
from emulator.http.control_views import PREVIEW_CHARS

TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather"}}]
Control = Callable[..., httpx.Response]


def _asgi(emu: Emulator) -> Control:
    def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=emu.asgi_app())
            async with httpx.AsyncClient(transport=transport, base_url="http://emu.test") as c:
                return await c.request(method, path, **kwargs)

        return asyncio.run(go())

    return send


def _http(server: ThreadedServer) -> Control:
    def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
        with httpx.Client(base_url=server.url) as c:
            return c.request(method, path, **kwargs)

    return send


@pytest.fixture
def server(assistants_emulator_server: ThreadedServer) -> ThreadedServer:
    return assistants_emulator_server


@pytest.fixture(params=["asgi", "http"])
def control(request: pytest.FixtureRequest, emu: Emulator, server: ThreadedServer) -> Control:
    """Send a request to the emulator: through its ASGI app, or over a real loopback server."""
    return _asgi(emu) if request.param == "asgi" else _http(server)


@pytest.fixture
def sdk(server: ThreadedServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as client:
        yield client


def state(emu: Emulator) -> dict[str, Any]:
    """The snapshot without the request-id stream: every answer, errors included, draws an
    `x-request-id`; nothing else may move."""
    data = emu.snapshot()
    del data["ids"]["requests"]
    return data


def waiting_run(sdk: openai.OpenAI) -> tuple[str, str]:
    """A run waiting for a `get_weather` output (the emulator answers with that call)."""
    bot = sdk.beta.assistants.create(model="gpt-4o", name="Weather bot", tools=TOOLS)
    thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Paris?"}])
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=bot.id, tool_choice="required"
    )
    assert run.status == "requires_action"
    return thread.id, run.id


# --- clock -----------------------------------------------------------------------------------


def test_the_clock_moves_and_answers_the_new_time(emu: Emulator, control: Control) -> None:
    start = emu.clock.now()

    advanced = control("POST", "/_emulator/clock/advance", json={"seconds": 601})
    moved = control("POST", "/_emulator/clock/move_to", json={"timestamp": 1_800_000_000})
    read = control("GET", "/_emulator/clock")

    assert advanced.json() == {"now": start + 601}
    assert moved.json() == {"now": 1_800_000_000} == read.json()
    assert emu.clock.now() == 1_800_000_000


def test_a_client_reproduces_run_expiry_over_http(
    emu: Emulator, server: ThreadedServer, sdk: openai.OpenAI
) -> None:
    thread_id, run_id = waiting_run(sdk)

    httpx.post(f"{server.url}/_emulator/clock/advance", json={"seconds": 601})
    run = sdk.beta.threads.runs.retrieve(run_id, thread_id=thread_id)

    assert run.status == "expired"
    with pytest.raises(openai.BadRequestError):
        sdk.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )


# --- reset, scripts, holds, faults -------------------------------------------------------------


def test_reset_forgets_objects_requests_and_faults(
    emu: Emulator, control: Control, sdk: openai.OpenAI
) -> None:
    sdk.beta.assistants.create(model="gpt-4o")
    emu.fail_next(status=500)

    answer = control("POST", "/_emulator/reset")

    assert answer.status_code == 200
    assert (emu.assistants, emu.requests, emu.faults.pending) == ({}, [], 0)


def test_a_script_replaces_the_responder_each_time_it_is_loaded(
    control: Control, sdk: openai.OpenAI
) -> None:
    bot = sdk.beta.assistants.create(model="gpt-4o")
    script = {"replies": ["First answer."]}

    def answer() -> str:
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        sdk.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=bot.id)
        text = sdk.beta.threads.messages.list(thread.id).data[0].content[0]
        return text.text.value  # type: ignore[union-attr]

    loaded = control("POST", "/_emulator/script", json=script)
    first = answer()
    control("POST", "/_emulator/script", json=script)  # a second client run starts afresh

    assert loaded.json() == {"replies": 1, "rules": 0, "assistant": None}
    assert first == answer() == "First answer."


def test_script_rules_answer_by_pattern_and_fall_back_to_the_replies(
    control: Control, sdk: openai.OpenAI
) -> None:
    bot = sdk.beta.assistants.create(model="gpt-4o", tools=TOOLS)
    rules = {
        "rules": [
            {
                "pattern": "weather",
                "then": [
                    {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    "Sunny.",
                ],
            }
        ],
        "replies": ["No rule matched."],
    }
    control("POST", "/_emulator/script", json=rules)

    weather = sdk.beta.threads.create_and_run_poll(
        assistant_id=bot.id, thread={"messages": [{"role": "user", "content": "weather?"}]}
    )
    other = sdk.beta.threads.create_and_run_poll(
        assistant_id=bot.id, thread={"messages": [{"role": "user", "content": "hello"}]}
    )
    replies = sdk.beta.threads.messages.list(other.thread_id).data[0].content[0]

    assert weather.status == "requires_action"
    call = weather.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )
    assert replies.text.value == "No rule matched."  # type: ignore[union-attr]


def test_hold_and_release(emu: Emulator, control: Control, sdk: openai.OpenAI) -> None:
    bot = sdk.beta.assistants.create(model="gpt-4o")
    control("POST", "/_emulator/hold", json={"at": "in_progress"})

    held = sdk.beta.threads.create_and_run(
        assistant_id=bot.id, thread={"messages": [{"role": "user", "content": "Hi"}]}
    )
    held = sdk.beta.threads.runs.retrieve(held.id, thread_id=held.thread_id)
    control("POST", "/_emulator/release", json={})
    released = sdk.beta.threads.runs.retrieve(held.id, thread_id=held.thread_id)

    assert (held.status, released.status) == ("in_progress", "completed")


def test_faults_fail_and_drop_the_next_requests(control: Control, sdk: openai.OpenAI) -> None:
    control(
        "POST",
        "/_emulator/faults",
        json={"type": "fail", "status": 429, "method": "POST", "path": "^/threads$"},
    )
    control("POST", "/_emulator/faults", json={"type": "drop", "path": "^/assistants$"})

    with pytest.raises(openai.RateLimitError):
        sdk.beta.threads.create()
    with pytest.raises(openai.APIConnectionError):
        sdk.beta.assistants.list()
    assert sdk.beta.threads.create().object == "thread"  # used up


# --- snapshots -------------------------------------------------------------------------------


def test_a_snapshot_round_trips(emu: Emulator, control: Control, sdk: openai.OpenAI) -> None:
    bot = sdk.beta.assistants.create(model="gpt-4o", name="Kept")
    saved = control("GET", "/_emulator/snapshot").json()
    sdk.beta.assistants.create(model="gpt-4o", name="Forgotten")
    emu.clock.advance(3600)

    loaded = control("POST", "/_emulator/snapshot", json=saved)

    assert loaded.json() == {"loaded": True, "now": saved["clock"]["now"]}
    assert [a["name"] for a in emu.assistants.values()] == ["Kept"]
    assert sdk.beta.assistants.retrieve(bot.id).name == "Kept"


def _inconsistent(snapshot: dict[str, Any]) -> dict[str, Any]:
    snapshot["threads"][0]["runs"][0]["run"]["thread_id"] = "thread_elsewhere"
    return snapshot


def _wrong_format(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {**snapshot, "format": "something-else"}


def _missing_clock(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "clock"}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda s: json.dumps(s)[:-40],  # truncated file
        lambda s: json.dumps(s).replace(f'"now": {s["clock"]["now"]}', '"now": Infinity'),
        lambda s: json.dumps(s).replace(f'"now": {s["clock"]["now"]}', '"now": 1e999'),
        lambda s: "[1, 2]",
        lambda s: json.dumps(_wrong_format(s)),
        lambda s: json.dumps(_missing_clock(s)),
        lambda s: json.dumps(_inconsistent(s)),
    ],
    ids=[
        "truncated",
        "infinity",
        "overflow",
        "not-an-object",
        "format",
        "no-clock",
        "inconsistent",
    ],
)
def test_a_bad_snapshot_is_a_400_and_changes_nothing(
    emu: Emulator, control: Control, spoil: Callable[[dict[str, Any]], str]
) -> None:
    emu.script(reply.tool_call("get_weather", {}))
    control(
        "POST", "/v1/assistants", json={"model": "gpt-4o"}, headers={"authorization": "Bearer k"}
    )
    good = state(emu)
    assistant_id = next(iter(emu.assistants))
    control(
        "POST",
        "/v1/threads/runs",
        json={
            "assistant_id": assistant_id,
            "thread": {"messages": [{"role": "user", "content": "x"}]},
        },
        headers={"authorization": "Bearer k"},
    )
    before = state(emu)

    answer = control("POST", "/_emulator/snapshot", content=spoil(copy.deepcopy(before)))

    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.headers["x-request-id"].startswith("req_")
    assert state(emu) == before != good


# --- the request log and the state view -----------------------------------------------------


def test_recent_requests_are_bounded_newest_first_and_redacted(
    emu: Emulator, control: Control, sdk: openai.OpenAI
) -> None:
    for n in range(3):
        sdk.beta.assistants.create(model="gpt-4o", name=f"bot {n}")
    sdk.beta.assistants.create(model="gpt-4o", instructions="x" * (PREVIEW_CHARS + 500))

    answer = control("GET", "/_emulator/requests", params={"limit": 3}).json()

    assert answer["total"] == 4 and len(answer["data"]) == 3
    newest, *_, oldest = answer["data"]
    assert (json.loads(oldest["body"])["name"], newest["status"]) == ("bot 1", 200)
    assert newest["body"].endswith("more characters]") and newest["body_bytes"] > PREVIEW_CHARS
    assert newest["headers"]["authorization"] == "[redacted]"
    assert len(emu.requests) == 4  # control calls are not recorded


def test_the_state_view_shows_objects_timelines_and_truncation(
    emu: Emulator, control: Control, sdk: openai.OpenAI
) -> None:
    emu.script(reply.tool_call("get_weather", {"city": "Paris"}), "Sunny.")
    thread_id, run_id = waiting_run(sdk)
    emu.clock.advance(30)
    call = emu.runs(thread_id)[0]["required_action"]["submit_tool_outputs"]["tool_calls"][0]
    sdk.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run_id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call["id"], "output": "1"}],
    )

    state = control("GET", "/_emulator/state").json()

    (entry,) = state["threads"]
    (run,) = entry["runs"]
    created = run["run"]["created_at"]
    assert state["now"] == emu.clock.now() and state["assistant_count"] == 1
    assert [m["role"] for m in entry["messages"]] == ["user", "assistant"]
    assert [(e["status"], e["at"] - created) for e in run["timeline"]] == [
        ("queued", 0),
        ("in_progress", 0),
        ("requires_action", 0),
        ("in_progress", 30),
        ("completed", 30),
    ]
    assert [[(a["role"], a["fate"]) for a in r["visible"]] for r in run["truncation"]] == [
        [("user", "kept")],
        [("user", "kept"), ("tool", "kept")],  # the second turn also sees the tool output
    ]
    assert [s["type"] for s in run["steps"]] == ["tool_calls", "message_creation"]
    assert state["requests"][0]["path"] == f"/threads/{thread_id}/runs/{run_id}"  # the last poll
    assert state["request_count"] == len(emu.requests)


def test_the_state_view_cuts_long_strings(emu: Emulator, control: Control) -> None:
    control(
        "POST",
        "/v1/threads",
        json={"messages": [{"role": "user", "content": "y" * (PREVIEW_CHARS * 3)}]},
        headers={"authorization": "Bearer k"},
    )

    state = control("GET", "/_emulator/state").json()

    text = state["threads"][0]["messages"][0]["content"][0]["text"]["value"]
    assert text == "y" * PREVIEW_CHARS + f"… [{PREVIEW_CHARS * 2} more characters]"


# --- errors and keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "param"),
    [
        ("POST", "/_emulator/clock/advance", b'{"seconds": "60"}', 400, "seconds"),
        ("POST", "/_emulator/clock/advance", b'{"seconds": true}', 400, "seconds"),
        ("POST", "/_emulator/clock/advance", b'{"seconds": -1}', 400, "seconds"),
        ("POST", "/_emulator/clock/advance", b'{"seconds": NaN}', 400, None),
        ("POST", "/_emulator/clock/advance", b'{"seconds": 1e300}', 400, "seconds"),
        ("POST", "/_emulator/clock/advance", b'{"seconds": 1, "second": 1}', 400, "second"),
        ("POST", "/_emulator/clock/advance", b"{}", 400, "seconds"),
        ("POST", "/_emulator/clock/advance", b'{"seconds": 60', 400, None),
        ("POST", "/_emulator/clock/advance", b"[60]", 400, None),
        ("POST", "/_emulator/clock/move_to", b'{"timestamp": 1.5}', 400, "timestamp"),
        ("POST", "/_emulator/clock/move_to", b'{"timestamp": 1e20}', 400, "timestamp"),
        ("POST", "/_emulator/script", b"{}", 400, "replies"),
        ("POST", "/_emulator/script", b'{"replies": [{"say": "hi"}]}', 400, "replies[0]"),
        ("POST", "/_emulator/script", b'{"replies": "hi"}', 400, "replies"),
        ("POST", "/_emulator/script", b'{"rules": [{"pattern": "(", "then": "x"}]}', 400, None),
        ("POST", "/_emulator/script", b'{"rules": [{"then": []}]}', 400, "rules[0].then"),
        ("POST", "/_emulator/hold", b'{"at": "completed"}', 400, "at"),
        ("POST", "/_emulator/faults", b'{"type": "explode"}', 400, "type"),
        ("POST", "/_emulator/faults", b'{"status": 200}', 400, "status"),
        ("POST", "/_emulator/faults", b'{"times": 0}', 400, "times"),
        ("POST", "/_emulator/faults", b'{"path": "["}', 400, "path"),
        ("POST", "/_emulator/faults", b'{"type": "drop", "status": 500}', 400, "status"),
        ("GET", "/_emulator/requests?limit=1000", b"", 400, "limit"),
        ("GET", "/_emulator/clock/advance", b"", 405, None),
        ("DELETE", "/_emulator/state", b"", 405, None),
        ("POST", "/_emulator/", b"", 405, None),
        ("GET", "/_emulator/nothing/here", b"", 404, None),
    ],
)
def test_bad_calls_get_the_openai_error_envelope_and_change_nothing(
    emu: Emulator, control: Control, method: str, path: str, body: bytes, status: int, param: Any
) -> None:
    before = state(emu)
    responder = emu.settings.responder

    answer = control(method, path, content=body)

    assert answer.status_code == status
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    assert state(emu) == before and emu.settings.responder is responder
    assert emu.faults.pending == 0


@pytest.mark.assistants_emulator(require_key="sk-right-key-1234")
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Bearer sk-wrong-key-0000"}, 401),
        ({"authorization": "Bearer sk-right-key-1234"}, 200),
        ({"api-key": "sk-right-key-1234"}, 200),
    ],
)
def test_with_require_key_control_calls_need_the_key(
    emu: Emulator, control: Control, headers: dict[str, str], status: int
) -> None:
    start = emu.clock.now()

    answer = control("POST", "/_emulator/clock/advance", json={"seconds": 60}, headers=headers)
    unknown = control("GET", "/_emulator/nowhere", headers=headers)

    assert answer.status_code == status
    assert unknown.status_code == (404 if status == 200 else 401)
    assert emu.clock.now() == start + (60 if status == 200 else 0)


def test_without_require_key_no_key_is_needed_but_v1_still_wants_one(control: Control) -> None:
    assert control("GET", "/_emulator/state").status_code == 200
    assert control("GET", "/v1/assistants").status_code == 401


@pytest.mark.parametrize("required", [None, "sk-right-key-1234"])
@pytest.mark.parametrize("path", ["/_emulator", "/_emulator/"])
def test_the_dashboard_page_is_served_without_a_key(path: str, required: str | None) -> None:
    emu = Emulator(require_key=required)

    page = _asgi(emu)("GET", path)

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    flag = "true" if required else "false"
    assert f'<meta name="emulator-key-required" content="{flag}">' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from outside


# --- the command line ------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = control_cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


def test_the_cli_drives_a_running_server(
    emu: Emulator,
    server: ThreadedServer,
    sdk: openai.OpenAI,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url = ("--url", server.url)
    thread_id, run_id = waiting_run(sdk)
    snapshot = tmp_path / "saved.json"
    script = tmp_path / "script.json"
    script.write_text('{"replies": ["From the CLI."]}')

    assert cli(capsys, "snapshot", "get", str(snapshot), *url)[:2] == (0, f"wrote {snapshot}")
    assert cli(capsys, "clock", "advance", "601", *url)[:2] == (0, str(emu.clock.now()))
    assert sdk.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "expired"
    assert cli(capsys, "snapshot", "load", str(snapshot), *url)[0] == 0
    assert sdk.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status == "requires_action"
    assert cli(capsys, "requests", "--limit", "1", *url)[1].startswith("GET    /threads/")
    assert cli(capsys, "script", str(script), *url)[1] == "script loaded: 1 replies, 0 rules"
    assert cli(capsys, "hold", "--at", "queued", *url)[0] == 0
    assert emu.settings.holds == {None: "queued"}
    assert cli(capsys, "release", *url)[1] == "released all runs"
    assert cli(capsys, "faults", "fail", "--status", "503", "--times", "2", *url)[0] == 0
    assert emu.faults.pending == 2
    assert cli(capsys, "reset", *url)[:2] == (0, "reset")
    assert emu.threads == {} and emu.faults.pending == 0
    assert cli(capsys, "clock", "move_to", "1800000000", *url)[1] == "1800000000"
    assert json.loads(cli(capsys, "state", *url)[1])["now"] == 1_800_000_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["clock", "advance", "soon"], "error: argument SECONDS: not a number: 'soon'"),
        (["clock", "advance", "-5"], "error: Invalid 'seconds': decimal below minimum value."),
        (["clock", "rewind", "5"], "error: argument ACTION: invalid choice"),
        (["teleport"], "error: argument COMMAND: invalid choice"),
        (["snapshot", "load", "/nonexistent/snap.json"], "error: cannot read /nonexistent/"),
        (["snapshot", "load", "BROKEN"], "error: BROKEN is not JSON"),
        (["snapshot", "load", "NOT_SNAPSHOT"], "error: Invalid snapshot: not an emulator"),
        (["script", "NOT_SNAPSHOT"], "error: Unknown parameter: 'format'."),
        (["requests", "--limit", "0"], "error: Invalid 'limit': integer below minimum value."),
        (["reset", "--url", "ftp://x"], "error: --url must start with http:// or https://"),
    ],
)
def test_bad_cli_input_is_one_error_line_and_exit_2(
    server: ThreadedServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "broken.json").write_text('{"replies": [')
    (tmp_path / "other.json").write_text('{"format": "not mine"}')
    files = {"BROKEN": str(tmp_path / "broken.json"), "NOT_SNAPSHOT": str(tmp_path / "other.json")}
    argv = [files.get(arg, arg) for arg in argv]
    if "--url" not in argv:
        argv += ["--url", server.url]

    status, out, err = cli(capsys, *argv)

    assert (status, out) == (2, "")
    assert err.startswith(message.replace("BROKEN", files["BROKEN"])) and "\n" not in err


def test_an_unreachable_server_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, _, err = cli(capsys, "reset", "--url", f"http://127.0.0.1:{port}")

    assert status == 1 and err.startswith(
        f"error: cannot reach the emulator at http://127.0.0.1:{port}"
    )


@pytest.mark.assistants_emulator(require_key="sk-right-key-1234")
def test_the_cli_sends_the_key(
    emu: Emulator,
    server: ThreadedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli(capsys, "clock", "now", "--url", server.url)[0] == 2
    monkeypatch.setenv("OPENAI_API_KEY", "sk-right-key-1234")
    assert cli(capsys, "clock", "now", "--url", server.url)[1] == str(emu.clock.now())
    assert cli(capsys, "clock", "now", "--url", server.url, "--key", "sk-nope")[0] == 2
