"""What trips up a new user in the first hour (issue 13): rules that accumulate, scripts checked
when given, in-process transports, shipped examples and their schema, one-line command-line
errors, `/models` and `/`, per-route call counts, marker options and tiktoken offline."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jsonschema
import openai
import pytest
from openai.types.beta import Assistant, Thread

from emulator import Emulator, Rules, Script, ScriptFormatError, load_script, reply
from emulator import examples as shipped
from emulator.http.server import ThreadedServer, load_responder, main

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent
SDK_MAJOR = int(openai.__version__.split(".")[0])
WEATHER = reply.tool_call("get_weather", {"city": "Paris"})


def ask(client: openai.OpenAI, assistant: Assistant, text: str) -> Any:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    return client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)


def answer_text(client: openai.OpenAI, thread_id: str) -> str:
    content = client.beta.threads.messages.list(thread_id=thread_id).data[0].content[0]
    return content.text.value  # type: ignore[union-attr]


# --- 1. rules accumulate, scripts replace ---------------------------------------------------


def test_repeated_rules_calls_accumulate_in_one_rule_set(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    first = emu.rules().add(r"weather", then=WEATHER)
    second = emu.rules().add(r"hello", then=reply.text("Hi!"))

    weather = ask(client, tool_assistant, "what is the weather")
    hello = ask(client, tool_assistant, "hello there")

    assert first is second and len(first.rules) == 2
    assert weather.status == "requires_action"
    assert answer_text(client, hello.thread_id) == "Hi!"


def test_rules_are_cleared_with_clear_or_respond_with_none(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    emu.rules().add(r"hello", then="Hi!")
    emu.rules().clear()
    assert answer_text(client, ask(client, tool_assistant, "hello").thread_id) == "You said: hello"

    emu.rules().add(r"hello", then="Hi!")
    emu.respond_with(None)
    assert answer_text(client, ask(client, tool_assistant, "hello").thread_id) == "You said: hello"
    assert emu.rules().rules == []  # a fresh set after going back to the default


def test_rules_for_an_assistant_are_their_own_set(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    emu.rules().add(r"hello", then="Hi from all.")
    emu.rules(assistant="Weather bot").add(r"hello", then="Hi from the weather bot.")
    emu.rules(assistant="Weather bot").add(r"bye", then="Bye from the weather bot.")

    assert len(emu.rules().rules) == 1 and len(emu.rules(assistant="Weather bot").rules) == 2
    hello = ask(client, tool_assistant, "hello")
    assert answer_text(client, hello.thread_id) == "Hi from the weather bot."
    emu.respond_with(None, assistant="Weather bot")
    hello = ask(client, tool_assistant, "hello")
    assert answer_text(client, hello.thread_id) == "Hi from all."


def test_a_new_script_replaces_the_previous_one(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    emu.script("old one", "old two")
    emu.script("new")

    assert answer_text(client, ask(client, tool_assistant, "hi").thread_id) == "new"


# --- 2. scripts checked when given -----------------------------------------------------------


def test_a_list_given_to_script_is_the_replies(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    script = emu.script([reply.text("a"), reply.text("b")])

    assert script.remaining == 2
    assert answer_text(client, ask(client, tool_assistant, "1").thread_id) == "a"
    assert answer_text(client, ask(client, tool_assistant, "2").thread_id) == "b"


@pytest.mark.parametrize(
    ("replies", "says"),
    [
        (({"text": "hi"},), "script item 0 is a dict"),
        (("ok", None), "script item 1 is None"),
        (("ok", 42), "script item 1 is a int"),
        (([reply.text("a")], reply.text("b")), "script item 0 is a list"),
    ],
)
def test_anything_but_replies_in_a_script_is_a_type_error_at_once(
    emu: Emulator, replies: tuple[Any, ...], says: str
) -> None:
    before = emu.settings.responder
    with pytest.raises(TypeError, match=says):
        emu.script(*replies)
    assert emu.settings.responder is before


@pytest.mark.parametrize(
    ("then", "says"),
    [({"text": "hi"}, "not a dict"), ([reply.text("a"), 3], r"then\[1\] is a int")],
)
def test_a_rule_with_something_else_than_replies_is_a_type_error(then: Any, says: str) -> None:
    with pytest.raises(TypeError, match=says):
        Rules().add("x", then=then)


BAD_SCRIPTS = [
    ({"replies": "hello"}, "replies", "Invalid type for 'replies': expected an array of replies"),
    ({"replies": ["ok", {"say": "hi"}]}, "replies[1]", "Invalid 'replies[1]'"),
    ({"reply": ["ok"]}, "reply", "Unknown parameter: 'reply'."),
    ({}, "replies", "Missing required parameter: 'replies' (or 'rules')."),
    ("hello", "script", "Invalid type for 'script'"),
    ({"rules": {"then": "x"}}, "rules", "Invalid type for 'rules'"),
    ({"rules": [{"pattern": "("}]}, "rules[0].pattern", "not a regular expression"),
    ({"rules": [{"pattern": "x"}]}, "rules[0].then", "Missing required parameter"),
    ({"rules": [{"then": []}]}, "rules[0].then", "expected at least one reply"),
    ({"rules": [{"then": "x", "when": 1}]}, "rules[0].when", "Unknown parameter"),
    ({"replies": ["x"], "assistant": 7}, "assistant", "Invalid type for 'assistant'"),
]


@pytest.mark.parametrize(("data", "param", "says"), BAD_SCRIPTS)
def test_a_bad_script_file_names_the_file_and_the_place(
    tmp_path: Path, data: Any, param: str, says: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))

    with pytest.raises(ScriptFormatError) as caught:
        load_script(path)

    assert caught.value.param == param
    assert str(caught.value).startswith(f"{path}")
    assert says in str(caught.value)
    with pytest.raises(ScriptFormatError, match=str(path).replace("\\", "\\\\")):
        Script.from_file(path)


@pytest.mark.parametrize(("data", "param", "says"), BAD_SCRIPTS)
def test_the_control_api_answers_the_same_mistakes_with_the_same_words(
    emu: Emulator, data: Any, param: str, says: str
) -> None:
    before = emu.settings.responder

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(emu.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
            return await http.post("/_emulator/script", json=data)

    answer = asyncio.run(post())

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert says in error["message"] and error["param"] == param
    assert emu.settings.responder is before


def test_a_script_file_may_hold_rules_served_by_responder(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant
) -> None:
    responder = load_responder("examples/weather_rules.json")
    emu.respond_with(responder)

    weather = ask(client, tool_assistant, "How is the weather?")
    other = ask(client, tool_assistant, "Tell me a joke")

    assert isinstance(responder, Rules)
    assert weather.required_action.submit_tool_outputs.tool_calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert answer_text(client, other.thread_id) == "I only know about the weather."


# --- 3. in-process transports ----------------------------------------------------------------


def _flow(client: openai.OpenAI) -> str:
    assistant = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hello"}]},
    )
    return answer_text(client, run.thread_id)


async def _async_flow(client: openai.AsyncOpenAI) -> str:
    assistant = await client.beta.assistants.create(model="gpt-4o")
    run = await client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hello"}]},
    )
    page = await client.beta.threads.messages.list(thread_id=run.thread_id)
    return page.data[0].content[0].text.value  # type: ignore[union-attr]


def test_the_httpx_transport_serves_sync_and_async_sdk_clients_without_start() -> None:
    emu = Emulator()  # never started: nothing is patched
    transport = emu.transport()

    sync = openai.OpenAI(api_key="sk-test", http_client=httpx.Client(transport=transport))
    asynchronous = openai.AsyncOpenAI(
        api_key="sk-test", http_client=httpx.AsyncClient(transport=transport)
    )

    assert _flow(sync) == "You said: Hello"
    assert asyncio.run(_async_flow(asynchronous)) == "You said: Hello"
    assert len(emu.assistants) == 2


@pytest.mark.skipif(SDK_MAJOR < 3, reason="openai < 3 sends with httpx, not httpx2")
def test_the_httpx2_transport_serves_sync_and_async_sdk_clients_without_start() -> None:
    emu = Emulator()
    transport = emu.transport2()

    sync = openai.OpenAI(api_key="sk-test", http_client=httpx2.Client(transport=transport))
    asynchronous = openai.AsyncOpenAI(
        api_key="sk-test", http_client=httpx2.AsyncClient(transport=transport)
    )

    assert _flow(sync) == "You said: Hello"
    assert asyncio.run(_async_flow(asynchronous)) == "You said: Hello"


@pytest.mark.parametrize("library", [httpx, httpx2])
def test_transports_stream_and_record_like_interception(library: Any) -> None:
    emu = Emulator()
    transport = emu.transport() if library is httpx else emu.transport2()
    headers = {"authorization": "Bearer sk-test"}
    with library.Client(transport=transport, base_url="https://api.openai.com/v1") as http:
        assistant = http.post("/assistants", json={"model": "gpt-4o"}, headers=headers).json()
        thread = {"messages": [{"role": "user", "content": "Hello"}]}
        body = {"assistant_id": assistant["id"], "thread": thread, "stream": True}
        with http.stream("POST", "/threads/runs", json=body, headers=headers) as events:
            text = "".join(events.iter_text())

    assert "event: thread.run.completed" in text and text.endswith("data: [DONE]\n\n")
    assert [r.path for r in emu.requests] == ["/assistants", "/threads/runs"]


# --- 4. examples ship in the package ---------------------------------------------------------


def test_the_shipped_examples_follow_the_script_schema() -> None:
    schema = json.loads((shipped.DIRECTORY / "script.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    scripts = [p for p in shipped.DIRECTORY.glob("*.json") if _is_script(p)]

    assert {p.name for p in scripts} >= {"support_bot_script.json", "weather_rules.json"}
    for path in scripts:
        assert list(validator.iter_errors(json.loads(path.read_text()))) == [], path.name
        load_script(path)  # and the loader agrees
    for data, _param, _says in BAD_SCRIPTS:  # the schema refuses what the loader refuses
        assert not validator.is_valid(data), data


def _is_script(path: Path) -> bool:
    return path.name != "script.schema.json" and "clock" not in json.loads(path.read_text())


def test_examples_are_found_from_any_directory(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project_dir)

    assert shipped.resolve("examples/support_bot_expired.json").is_file()
    assert shipped.resolve("mine.json") == Path("mine.json")
    with pytest.raises(FileNotFoundError, match=r"support_bot_script\.json"):
        shipped.resolve("examples/nope.json")


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty project directory: no `examples/` or `fixtures/` of its own."""
    return tmp_path


def test_help_points_at_the_shipped_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])

    usage = " ".join(capsys.readouterr().out.split())
    assert "examples/support_bot_script.json" in usage and "script.schema.json" in usage
    assert "fixtures/" not in usage


# --- 5. command-line errors, /models, / and debug logs ----------------------------------------


@pytest.fixture
def missing_replies(tmp_path: Path) -> str:
    path = tmp_path / "script.json"
    path.write_text('{"reply": ["hi"]}')
    return str(path)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--port", "99999"], "error: argument --port: invalid port '99999'"),
        (["--port", "-1"], "error: argument --port: invalid port '-1'"),
        (["--port", "http"], "error: argument --port: invalid port 'http'"),
        (["--responder", "MISSING_REPLIES"], "Unknown parameter: 'reply'."),
        (["--responder", "nowhere.json"], "error: nowhere.json: cannot read the script"),
        (["--responder", "no_such_module:thing"], "error: No module named 'no_such_module'"),
        (["--fixture", "examples/nope.json"], "error: no example 'nope.json'"),
        (["--clock", "slow"], "error: argument --clock: invalid choice: 'slow'"),
        (["--forward-model", "m"], "error: --forward-model goes with --forward URL"),
    ],
)
def test_bad_command_line_input_is_one_error_line_and_exit_2(
    argv: list[str], says: str, missing_replies: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [missing_replies if a == "MISSING_REPLIES" else a for a in argv]
    with pytest.raises(SystemExit) as exited:
        main(["serve", *argv])

    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert says in err


def test_a_port_in_use_suggests_port_0(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--port", str(port)])

    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err


def test_the_real_command_prints_no_traceback(missing_replies: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--responder", missing_replies],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_models_are_listed_and_retrieved_as_the_sdk_types(
    emu: Emulator, client: openai.OpenAI
) -> None:
    listed = client.models.list()
    model = client.models.retrieve("gpt-4o")

    assert [m.id for m in listed.data] == [m.name for m in emu.models]
    assert (model.id, model.object, model.owned_by) == ("gpt-4o", "model", "system")
    assert model.created > 0


def test_a_registered_model_is_listed_and_an_unknown_one_is_the_real_404(
    emu: Emulator, client: openai.OpenAI
) -> None:
    from emulator import ModelInfo

    emu.register_model(ModelInfo("acme-1", 4096, 1024, "cl100k_base"))

    assert client.models.retrieve("acme-1").created == 0
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-9")
    assert caught.value.body == {
        "message": "The model 'gpt-9' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_the_server_root_points_to_the_api_and_the_dashboard() -> None:
    with ThreadedServer(Emulator()) as server:
        root = httpx.get(server.url + "/")
        models = httpx.get(server.base_url + "/models", headers={"authorization": "Bearer k"})

    assert root.status_code == 200
    assert root.json()["api"] == "/v1/" and root.json()["dashboard"] == "/_emulator/"
    assert models.status_code == 200 and models.json()["object"] == "list"


def test_debug_logging_says_why_a_request_got_its_4xx(
    emu: Emulator, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="emulator"), pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve("thread_nope")

    assert "GET /threads/thread_nope answered 404: No thread found with id 'thread_nope'." in (
        caplog.text
    )


# --- 6. per-route call counts and marker options ---------------------------------------------


def test_calls_counts_requests_per_route_template(
    emu: Emulator, client: openai.OpenAI, tool_assistant: Assistant, user_thread: Thread
) -> None:
    for _ in range(3):
        client.beta.threads.runs.create_and_poll(
            thread_id=user_thread.id, assistant_id=tool_assistant.id
        )

    assert len(emu.calls("POST", "/threads/{thread_id}/runs")) == 3
    assert len(emu.calls("get", "/threads/{thread_id}/runs/{run_id}")) == 3
    assert len(emu.calls("POST", "/assistants")) == 1
    assert emu.calls("POST", "/threads/{thread_id}/runs")[0].json()["assistant_id"] == (
        tool_assistant.id
    )
    assert emu.calls("DELETE", "/threads/{thread_id}") == []
    with pytest.raises(ValueError, match="starts with '/'"):
        emu.calls("GET", "threads")


@pytest.mark.assistants_emulator(progress="step", hold="queued", latency=0, seed=3)
def test_the_marker_takes_progress_hold_and_every_emulator_option(emu: Emulator) -> None:
    assert emu.progress == "step"
    assert emu.settings.holds == {None: "queued"}
    assert emu.backend.ids.new("asst") == Emulator(seed=3).backend.ids.new("asst")


@pytest.mark.assistants_emulator(
    snapshot="examples/support_bot_expired.json", script="examples/weather_rules.json"
)
def test_the_marker_reads_shipped_examples_and_rule_scripts(emu: Emulator) -> None:
    assert len(emu.threads) == 1
    assert isinstance(emu.settings.responder, Rules)


# --- 8. tiktoken offline for everyone ---------------------------------------------------------


OFFLINE_CHECK = """
import tiktoken, tiktoken.load

class Download(Exception):
    pass

def refuse(url, *args, **kwargs):  # every download goes through read_file
    raise Download(url)

tiktoken.load.read_file = refuse
try:
    tiktoken.get_encoding("cl100k_base")
except Download as error:
    print("download refused:", error)
import emulator
print(emulator.offline_tiktoken())
for name in ("o200k_base", "cl100k_base"):
    print(name, tiktoken.get_encoding(name).encode("hello world"))
"""


def test_offline_tiktoken_fills_the_cache_so_get_encoding_never_downloads(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "download refused: https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        str(cache),
        "o200k_base [24912, 2375]",
        "cl100k_base [15339, 1917]",
    ]


def test_offline_tiktoken_keeps_good_files_and_replaces_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulator import offline_tiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # caching disabled: a fresh directory is used
    directory = offline_tiktoken()
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(directory)
    files = sorted(directory.iterdir())
    assert len(files) == 2
    files[0].write_bytes(b"corrupt")
    kept = files[1].stat().st_mtime_ns

    assert offline_tiktoken(directory) == directory
    assert files[0].stat().st_size > 1_000_000 and files[1].stat().st_mtime_ns == kept


def test_the_plugin_option_makes_the_whole_session_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nassistants_emulator_offline_tiktoken = true\n")
    pytester.makepyfile(
        """
        import tiktoken.load

        URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
        SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

        def test_the_rank_file_comes_from_the_cache(monkeypatch):
            def refuse(*args, **kwargs):
                raise AssertionError("tiktoken tried to download")
            monkeypatch.setattr(tiktoken.load, "read_file", refuse)
            assert len(tiktoken.load.read_file_cached(URL, SHA256)) > 1_000_000
        """
    )
    cache = pytester.path / "cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))

    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

    result.assert_outcomes(passed=1)
    assert len(list(cache.iterdir())) == 2
