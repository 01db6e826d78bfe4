"""Errors: the OpenAI envelope with the right status, the SDK's exceptions, and no damage.

Every failure answers `{"error": {"message", "type", "param", "code"}}`; unknown ids are 404
naming the id, bad input is 400 naming the parameter, a missing or wrong key is 401, and no
request, however malformed, answers 5xx or changes the state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import openai
import pytest

from emulator import Emulator

API = "https://api.openai.com/v1"
AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def ids(client: openai.OpenAI) -> dict[str, str]:
    """One assistant, and a thread holding one message."""
    assistant = client.beta.assistants.create(model="gpt-4o", name="kept")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "kept"}])
    [message] = client.beta.threads.messages.list(thread.id).data
    return {"a": assistant.id, "t": thread.id, "m": message.id}


def _envelope(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error", "param": param, "code": code}


# --- 404: unknown ids ------------------------------------------------------------------------

Call = Callable[[openai.OpenAI, dict[str, str]], object]
NOT_FOUND: dict[str, tuple[Call, str, str]] = {
    "retrieve assistant": (
        lambda c, i: c.beta.assistants.retrieve("asst_missing"),
        "assistant",
        "asst_missing",
    ),
    "update assistant": (
        lambda c, i: c.beta.assistants.update("asst_missing", name="x"),
        "assistant",
        "asst_missing",
    ),
    "delete assistant": (
        lambda c, i: c.beta.assistants.delete("asst_missing"),
        "assistant",
        "asst_missing",
    ),
    "retrieve thread": (
        lambda c, i: c.beta.threads.retrieve("thread_missing"),
        "thread",
        "thread_missing",
    ),
    "update thread": (
        lambda c, i: c.beta.threads.update("thread_missing", metadata={}),
        "thread",
        "thread_missing",
    ),
    "delete thread": (
        lambda c, i: c.beta.threads.delete("thread_missing"),
        "thread",
        "thread_missing",
    ),
    "create message": (
        lambda c, i: c.beta.threads.messages.create("thread_missing", role="user", content="x"),
        "thread",
        "thread_missing",
    ),
    "list messages": (
        lambda c, i: c.beta.threads.messages.list("thread_missing"),
        "thread",
        "thread_missing",
    ),
    "retrieve message": (
        lambda c, i: c.beta.threads.messages.retrieve("msg_missing", thread_id=i["t"]),
        "message",
        "msg_missing",
    ),
    "update message": (
        lambda c, i: c.beta.threads.messages.update("msg_missing", thread_id=i["t"], metadata={}),
        "message",
        "msg_missing",
    ),
    "delete message": (
        lambda c, i: c.beta.threads.messages.delete("msg_missing", thread_id=i["t"]),
        "message",
        "msg_missing",
    ),
    "message of a missing thread": (
        lambda c, i: c.beta.threads.messages.retrieve(i["m"], thread_id="thread_missing"),
        "thread",
        "thread_missing",
    ),
}


@pytest.mark.parametrize(("call", "kind", "missing"), NOT_FOUND.values(), ids=NOT_FOUND.keys())
def test_unknown_ids_are_404_naming_the_id(
    client: openai.OpenAI, emu: Emulator, ids: dict[str, str], call: Call, kind: str, missing: str
) -> None:
    before = len(emu.requests)

    with pytest.raises(openai.NotFoundError) as caught:
        call(client, ids)

    error = caught.value
    message = f"No {kind} found with id '{missing}'."
    assert error.status_code == 404
    assert error.body == _envelope(message)
    assert (error.param, error.code, error.type) == (None, None, "invalid_request_error")
    assert message in str(error)  # 3.x shows the message, 2.x the whole body: both name the id
    assert re.fullmatch(r"req_[0-9a-f]{32}", error.request_id or "")
    assert len(emu.requests) == before + 1  # a 404 is never retried


@pytest.mark.parametrize(
    ("path", "param", "bad", "prefix"),
    [
        ("/assistants/undefined", "assistant_id", "undefined", "asst"),
        ("/threads/undefined", "thread_id", "undefined", "thread"),
        ("/threads/null/messages", "thread_id", "null", "thread"),
        ("/threads/{t}/messages/undefined", "message_id", "undefined", "msg"),
        ("/threads/{t}/messages/{t}", "message_id", "{t}", "msg"),
    ],
)
def test_malformed_ids_are_400(
    client: openai.OpenAI, ids: dict[str, str], path: str, param: str, bad: str, prefix: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.get(path.format(**ids), cast_to=object)

    assert caught.value.body == _envelope(
        f"Invalid '{param}': '{bad.format(**ids)}'. Expected an ID that begins with '{prefix}'.",
        param,
    )


# --- 400: invalid bodies ---------------------------------------------------------------------

ENDPOINTS = {
    "create assistant": ("/assistants", {"model": "gpt-4o"}),
    "update assistant": ("/assistants/{a}", {}),
    "create thread": ("/threads", {}),
    "update thread": ("/threads/{t}", {}),
    "create message": ("/threads/{t}/messages", {"role": "user", "content": "x"}),
    "update message": ("/threads/{t}/messages/{m}", {}),
}
METADATA_ERRORS = {
    "unknown field": (
        {"colour": "red"},
        "Unknown parameter: 'colour'.",
        "colour",
        "unknown_parameter",
    ),
    "metadata value type": (
        {"metadata": {"modified": True}},
        "Invalid type for 'metadata.modified': expected a string, but got a boolean instead.",
        "metadata.modified",
        "invalid_type",
    ),
    "metadata type": (
        {"metadata": ["a"]},
        "Invalid type for 'metadata': expected an object, but got an array instead.",
        "metadata",
        "invalid_type",
    ),
    "17 metadata keys": (
        {"metadata": {f"k{n}": "v" for n in range(17)}},
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
        "but got an object with 17 properties instead.",
        "metadata",
        "object_above_max_properties",
    ),
    "metadata key of 65": (
        {"metadata": {"k" * 65: "v"}},
        f"Invalid property name in 'metadata': '{'k' * 65}' is too long. Expected a string with "
        "maximum length 64, but got a string with length 65 instead.",
        f"metadata.{'k' * 65}",
        "string_above_max_length",
    ),
    "metadata value of 513": (
        {"metadata": {"note": "v" * 513}},
        "Invalid 'metadata.note': string too long. Expected a string with maximum length 512, "
        "but got a string with length 513 instead.",
        "metadata.note",
        "string_above_max_length",
    ),
}


@pytest.mark.parametrize(
    ("bad", "message", "param", "code"), METADATA_ERRORS.values(), ids=METADATA_ERRORS.keys()
)
@pytest.mark.parametrize(("path", "base"), ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_invalid_bodies_are_400_naming_the_parameter(
    client: openai.OpenAI,
    emu: Emulator,
    ids: dict[str, str],
    path: str,
    base: dict[str, Any],
    bad: dict[str, Any],
    message: str,
    param: str,
    code: str,
) -> None:
    state = _state(emu)

    with pytest.raises(openai.BadRequestError) as caught:
        client.post(path.format(**ids), body=base | bad, cast_to=object)

    assert caught.value.body == _envelope(message, param, code)
    assert (caught.value.param, caught.value.code) == (param, code)
    assert _state(emu) == state


def test_metadata_at_the_limits_is_accepted(client: openai.OpenAI) -> None:
    metadata = {f"{n:02}" + "k" * 62: "v" * 512 for n in range(16)}

    assert client.beta.threads.create(metadata=metadata).metadata == metadata


ASSISTANT_ERRORS = {
    "name of 257": (
        {"name": "n" * 257},
        "Invalid 'name': string too long. Expected a string with maximum length 256, but got a "
        "string with length 257 instead.",
        "name",
        "string_above_max_length",
    ),
    "description of 513": (
        {"description": "d" * 513},
        "Invalid 'description': string too long. Expected a string with maximum length 512, but "
        "got a string with length 513 instead.",
        "description",
        "string_above_max_length",
    ),
    "instructions of 256001": (
        {"instructions": "i" * 256_001},
        "Invalid 'instructions': string too long. Expected a string with maximum length 256000, "
        "but got a string with length 256001 instead.",
        "instructions",
        "string_above_max_length",
    ),
    "129 tools": (
        {"tools": [{"type": "code_interpreter"}] * 129},
        "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an "
        "array with length 129 instead.",
        "tools",
        "array_above_max_length",
    ),
    "name type": (
        {"name": 7},
        "Invalid type for 'name': expected a string, but got an integer instead.",
        "name",
        "invalid_type",
    ),
    "model type": (
        {"model": 7},
        "Invalid type for 'model': expected a string, but got an integer instead.",
        "model",
        "invalid_type",
    ),
    "tools type": (
        {"tools": {}},
        "Invalid type for 'tools': expected an array, but got an object instead.",
        "tools",
        "invalid_type",
    ),
    "tool type": (
        {"tools": [{"type": "web_search"}]},
        "Invalid value: 'web_search'. Supported values are: 'function', 'file_search', and "
        "'code_interpreter'.",
        "tools[0].type",
        "invalid_value",
    ),
    "function without a name": (
        {"tools": [{"type": "function", "function": {}}]},
        "Missing required parameter: 'tools[0].function.name'.",
        "tools[0].function.name",
        "missing_required_parameter",
    ),
    "nested unknown field": (
        {"tools": [{"type": "code_interpreter", "code_interpreter": {}}]},
        "Unknown parameter: 'tools[0].code_interpreter'.",
        "tools[0].code_interpreter",
        "unknown_parameter",
    ),
    "temperature above 2": (
        {"temperature": 2.5},
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 "
        "instead.",
        "temperature",
        "decimal_above_max_value",
    ),
    "json_schema without a schema": (
        {"response_format": {"type": "json_schema"}},
        "Missing required parameter: 'response_format.json_schema'.",
        "response_format.json_schema",
        "missing_required_parameter",
    ),
    "21 code interpreter files": (
        {"tool_resources": {"code_interpreter": {"file_ids": ["file-x"] * 21}}},
        "Invalid 'tool_resources.code_interpreter.file_ids': array too long. Expected an array "
        "with maximum length 20, but got an array with length 21 instead.",
        "tool_resources.code_interpreter.file_ids",
        "array_above_max_length",
    ),
}


@pytest.mark.parametrize(
    ("bad", "message", "param", "code"), ASSISTANT_ERRORS.values(), ids=ASSISTANT_ERRORS.keys()
)
@pytest.mark.parametrize("path", ["/assistants", "/assistants/{a}"], ids=["create", "update"])
def test_invalid_assistant_fields_are_400(
    client: openai.OpenAI,
    emu: Emulator,
    ids: dict[str, str],
    path: str,
    bad: dict[str, Any],
    message: str,
    param: str,
    code: str,
) -> None:
    state = _state(emu)

    with pytest.raises(openai.BadRequestError) as caught:
        client.post(path.format(**ids), body={"model": "gpt-4o"} | bad, cast_to=object)

    assert caught.value.body == _envelope(message, param, code)
    assert _state(emu) == state


MESSAGE_ERRORS = {
    "no role": (
        {"content": "x"},
        "Missing required parameter: 'role'.",
        "role",
        "missing_required_parameter",
    ),
    "system role": (
        {"role": "system", "content": "x"},
        "Invalid value: 'system'. Supported values are: 'user' and 'assistant'.",
        "role",
        "invalid_value",
    ),
    "no content parts": (
        {"role": "user", "content": []},
        "Invalid 'content': array too short. Expected an array with minimum length 1, but got an "
        "array with length 0 instead.",
        "content",
        "array_below_min_length",
    ),
    "text part as an object": (
        {"role": "user", "content": [{"type": "text", "text": {"value": "x"}}]},
        "Invalid type for 'content[0].text': expected a string, but got an object instead.",
        "content[0].text",
        "invalid_type",
    ),
    "image detail": (
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "4k"}}],
        },
        "Invalid value: '4k'. Supported values are: 'auto', 'low', and 'high'.",
        "content[0].image_url.detail",
        "invalid_value",
    ),
    "attachment tool": (
        {
            "role": "user",
            "content": "x",
            "attachments": [{"file_id": "f", "tools": [{"type": "web"}]}],
        },
        "Invalid value: 'web'. Supported values are: 'code_interpreter' and 'file_search'.",
        "attachments[0].tools[0].type",
        "invalid_value",
    ),
}


@pytest.mark.parametrize(
    ("body", "message", "param", "code"), MESSAGE_ERRORS.values(), ids=MESSAGE_ERRORS.keys()
)
@pytest.mark.parametrize("where", ["messages.create", "threads.create"])
def test_invalid_messages_are_400(
    client: openai.OpenAI,
    emu: Emulator,
    ids: dict[str, str],
    where: str,
    body: dict[str, Any],
    message: str,
    param: str,
    code: str,
) -> None:
    state = _state(emu)
    if where == "threads.create":
        path, body = "/threads", {"messages": [{"role": "user", "content": "ok"}, body]}
        message, param = (
            message.replace(f"'{param}'", f"'messages[1].{param}'"),
            f"messages[1].{param}",
        )
    else:
        path = f"/threads/{ids['t']}/messages"

    with pytest.raises(openai.BadRequestError) as caught:
        client.post(path, body=body, cast_to=object)

    assert caught.value.body == _envelope(message, param, code)
    assert _state(emu) == state


# --- validated bodies kept by their bytes ---------------------------------------------------


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[type]:
    """The body models validated from here on, starting with no body kept (a cache hit is not
    a validation)."""
    from emulator.http.routes import base

    base._validated.cache_clear()
    seen: list[type] = []
    real = base.parse

    def counting(model: type[Any], data: Any) -> Any:
        seen.append(model)
        return real(model, data)

    monkeypatch.setattr(base, "parse", counting)
    return seen


def test_a_body_sent_again_is_not_validated_again_and_cannot_be_changed(
    client: openai.OpenAI, emu: Emulator, validations: list[type]
) -> None:
    """Test suites send the same creates over and over: the same bytes validate once, and the
    requests share the model, which is frozen (`metadata` set on one could show on the next)."""
    import pydantic

    from emulator.http.routes import base
    from emulator.wire.requests import CreateMessage

    thread = client.beta.threads.create()
    first = client.beta.threads.messages.create(thread.id, role="user", content="once")
    second = client.beta.threads.messages.create(thread.id, role="user", content="once")
    assert validations.count(CreateMessage) == 1
    assert first.id != second.id and first.content == second.content

    request = base.Request("POST", f"/threads/{thread.id}/messages", body=emu.requests[-1].body)
    one, other = (
        base.Call(emu.backend.scoped(None), request, {}).body(CreateMessage) for _ in range(2)
    )
    assert one is other
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        one.metadata = {"changed": "yes"}
    assert other.metadata is None
    assert validations.count(CreateMessage) == 1


def test_a_refused_body_is_refused_every_time_and_long_bodies_are_not_kept(
    client: openai.OpenAI, emu: Emulator, validations: list[type]
) -> None:
    """A refusal is not kept (each try gets its 400), and a body longer than
    `CACHED_BODY_BYTES` is validated each time instead of being kept."""
    from emulator.http.routes.base import CACHED_BODY_BYTES
    from emulator.wire.requests import CreateMessage

    thread = client.beta.threads.create()
    for _ in range(2):
        with pytest.raises(openai.BadRequestError) as caught:
            client.beta.threads.messages.create(thread.id, role="robot", content="hi")  # type: ignore[arg-type]
        assert caught.value.body["param"] == "role"
    long_text = "x" * CACHED_BODY_BYTES
    for _ in range(2):
        client.beta.threads.messages.create(thread.id, role="user", content=long_text)
    assert validations.count(CreateMessage) == 4
    assert len(client.beta.threads.messages.list(thread.id).data) == 2


# --- 401: keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic x"}]
)
def test_a_request_without_a_key_is_401(emu: Emulator, headers: dict[str, str]) -> None:
    response = httpx.post(f"{API}/assistants", json={"model": "gpt-4o"}, headers=headers)

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, None)
    assert emu.assistants == {}


@pytest.mark.assistants_emulator(require_key="sk-right")
def test_a_wrong_key_is_401(emu: Emulator) -> None:
    wrong = openai.OpenAI(api_key="sk-wrong-key-123456")
    right = openai.OpenAI(api_key="sk-right")

    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.beta.assistants.create(model="gpt-4o")

    assert caught.value.status_code == 401
    assert caught.value.body == _envelope(
        "Incorrect API key provided: sk-************3456. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )
    assert caught.value.code == "invalid_api_key"
    assert caught.value.request_id
    assert emu.assistants == {}
    assert right.beta.assistants.create(model="gpt-4o").model == "gpt-4o"


def test_error_bodies_are_pretty_printed_like_the_real_ones(emu: Emulator) -> None:
    response = httpx.get(f"{API}/assistants/asst_missing", headers=AUTH)

    assert response.headers["content-type"] == "application/json"
    assert response.text == json.dumps(
        {"error": _envelope("No assistant found with id 'asst_missing'.")}, indent=2
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/nowhere", 404, "Invalid URL (GET /v1/nowhere)"),
        ("POST", "/threads/{t}/files", 404, "Invalid URL (POST /v1/threads/{t}/files)"),
        ("PATCH", "/assistants/{a}", 405, "Invalid method for URL (PATCH /v1/assistants/{a})"),
    ],
)
def test_unknown_paths_and_methods(
    emu: Emulator, ids: dict[str, str], method: str, path: str, status: int, message: str
) -> None:
    """The real 404 text has no final period: `Invalid URL (POST /v1/chat/completion)`."""
    response = httpx.request(method, API + path.format(**ids), headers=AUTH)

    assert response.status_code == status
    assert response.json() == {"error": _envelope(message.format(**ids))}


# --- nothing breaks it -----------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
MALFORMED: dict[str, tuple[str, str, dict[str, str], bytes, int]] = {
    "broken json": ("POST", "/assistants", JSON, b'{"model": ', 400),
    "json array": ("POST", "/assistants", JSON, b'[{"model": "gpt-4o"}]', 400),
    "json string": ("POST", "/threads", JSON, b'"hello"', 400),
    "json null": ("POST", "/threads", JSON, b"null", 400),
    "not utf-8": ("POST", "/assistants", JSON, b'{"model": "\xff\xfe"}', 400),
    "form body": (
        "POST",
        "/assistants",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"model=gpt-4o",
        400,
    ),
    "text body": ("POST", "/threads/{t}/messages", {"Content-Type": "text/plain"}, b"hi", 400),
    "empty assistant": ("POST", "/assistants", JSON, b"", 400),
    "empty message": ("POST", "/threads/{t}/messages", JSON, b"", 400),
    "NaN temperature": ("POST", "/assistants", JSON, b'{"model": "m", "temperature": NaN}', 400),
    "deep nesting": (
        "POST",
        "/threads",
        JSON,
        b'{"metadata": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        400,
    ),
    "over 32 MB": (
        "POST",
        "/threads",
        JSON,
        b'{"metadata": {"k": "' + b"x" * (33 << 20) + b'"}}',
        400,
    ),
    "huge instructions": (
        "POST",
        "/assistants/{a}",
        JSON,
        json.dumps({"instructions": "x" * 5_000_000}).encode(),
        400,
    ),
    "unknown path": ("GET", "/assistants/{a}/files", JSON, b"", 404),
    "unknown root": ("POST", "/threads/{t}/cancel/now", JSON, b"{}", 404),
    "wrong method": ("PUT", "/assistants/{a}", JSON, b'{"name": "x"}', 405),
    "delete a list": ("DELETE", "/threads/{t}/messages", JSON, b"", 405),
    "undefined id": (
        "POST",
        "/threads/undefined/messages",
        JSON,
        b'{"role":"user","content":"x"}',
        400,
    ),
    "empty after": ("GET", "/assistants?limit=-1&after=", JSON, b"", 400),
    "unicode id": ("DELETE", "/assistants/asst_%F0%9F%98%80", JSON, b"", 404),
}


def _state(emu: Emulator) -> tuple[Any, ...]:
    threads = emu.threads
    return emu.assistants, threads, {t: emu.messages(t) for t in threads}, emu.check_invariants()


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"), MALFORMED.values(), ids=MALFORMED.keys()
)
def test_malformed_requests_never_5xx_nor_change_state(
    emu: Emulator,
    ids: dict[str, str],
    library: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    before = _state(emu)

    with library.Client() as http:
        response = http.request(
            method, API + path.format(**ids), headers=AUTH | headers, content=body
        )

    assert response.status_code == status
    error = response.json()["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert error["type"] == "invalid_request_error"
    assert response.headers["x-request-id"].startswith("req_")
    assert _state(emu) == before
    assert before[-1] == []


def test_failed_requests_do_not_shift_the_ids() -> None:
    """Same seed, same ids, however many requests failed in between."""
    quiet, noisy = Emulator(seed=1), Emulator(seed=1)
    headers = {"authorization": "Bearer sk-test"}
    for method, path, _, body, _ in MALFORMED.values():
        noisy.handle(method, API + path.format(a="asst_x", t="thread_x"), headers, body)

    made = [
        emulator.handle("POST", f"{API}/threads", headers, b"{}").json()["id"]
        for emulator in (quiet, noisy)
    ]
    assert made[0] == made[1]


def test_a_bug_in_the_emulator_is_a_logged_500_not_an_exception_in_the_client(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(emu.backend.scoped(None).assistants, "get", broken)
    client = openai.OpenAI(api_key="sk-test", max_retries=0)

    with pytest.raises(openai.InternalServerError) as raised:
        client.beta.assistants.retrieve("asst_abc")

    assert raised.value.status_code == 500
    assert raised.value.type == "server_error"
    assert "RuntimeError('boom')" in caplog.text


# --- fidelity: what the real parser refused (issue 11 points 8 and 10) ------------------------

COULD_NOT_PARSE = "We could not parse the JSON body of your request."


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(emu: Emulator, constant: bytes) -> None:
    """RFC 8259 has no NaN/Infinity; the real service answered its parse error (issue 11 p. 8),
    and an echoed NaN would make every later list invalid JSON for strict parsers."""
    state = _state(emu)
    body = b'{"model": "gpt-4o", "temperature": ' + constant + b"}"
    response = httpx.post(f"{API}/assistants", headers={**AUTH, **JSON}, content=body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(COULD_NOT_PARSE)
    assert _state(emu) == state


SPEC_REFUSED = {
    "null ranker": (
        "/assistants",
        {
            "model": "gpt-4o",
            "tools": [
                {
                    "type": "file_search",
                    "file_search": {"ranking_options": {"ranker": None, "score_threshold": 0.5}},
                }
            ],
        },
        "tools[0].file_search.ranking_options.ranker",
    ),
    "null json schema": (
        "/assistants",
        {
            "model": "gpt-4o",
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": None},
            },
        },
        "response_format.json_schema.schema",
    ),
    "empty image url": (
        "/threads/{t}/messages",
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": ""}}]},
        "content[0].image_url.url",
    ),
}


@pytest.mark.parametrize(("path", "body", "param"), SPEC_REFUSED.values(), ids=SPEC_REFUSED.keys())
def test_what_the_spec_refuses_is_a_400(
    client: openai.OpenAI, emu: Emulator, ids: dict[str, str], path: str, body: Any, param: str
) -> None:
    """OpenAPI: `FileSearchRanker` is an enum, `json_schema.schema` an object, `image_url.url` a
    URL; none is nullable or empty, so the real validator refused them (issue 11 point 8)."""
    state = _state(emu)
    with pytest.raises(openai.BadRequestError) as caught:
        client.post(path.format(**ids), body=body, cast_to=object)
    assert caught.value.param == param
    assert _state(emu) == state


# Arabic-Indic, fullwidth and superscript digits
@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize("limit", ["\u0661\u0662", "\uff11\uff12", "\u00b2"])
def test_only_ascii_digits_make_a_limit(emu: Emulator, library: Any, limit: str) -> None:
    """`int("١٢") == 12` in Python, but the real API's integers are ASCII (issue 11 point 10)."""
    response = library.get(f"{API}/assistants", params={"limit": limit}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_an_encoded_slash_stays_inside_its_id_through_every_adapter(
    client: openai.OpenAI, ids: dict[str, str], assistants_emulator_server: Any
) -> None:
    """`/threads/{id}%2Fmessages` names a thread whose id has a slash: 404, never the messages
    of thread `{id}` (issue 11 point 10). httpx and httpx2 keep the escape in the URL; an ASGI
    server decodes `path`, so the app reads `raw_path`."""
    path = f"/threads/{ids['t']}%2Fmessages"
    expected = _envelope(f"No thread found with id '{ids['t']}/messages'.")
    for library, base in [
        (httpx, API),
        (httpx2, API),
        (httpx, assistants_emulator_server.base_url),
    ]:
        response = library.get(base + path, headers=AUTH)
        assert (response.status_code, response.json()) == (404, {"error": expected}), library


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_head_is_get_without_a_body(emu: Emulator, ids: dict[str, str], library: Any) -> None:
    """The real API never answered HEAD with 405 (issue 11 point 10): HEAD is GET without a body
    (RFC 9110 §9.3.2), with GET's status."""
    found = library.head(f"{API}/threads/{ids['t']}", headers=AUTH)
    missing = library.head(f"{API}/threads/thread_nope", headers=AUTH)
    assert (found.status_code, found.content) == (200, b"")
    assert found.headers["content-type"] == "application/json"
    assert (missing.status_code, missing.content) == (404, b"")
