"""Fuzzing: random and malformed requests to every route get an OpenAI-shaped answer.

Each example starts from a fresh emulator holding the same small world (built once by requests,
then restored from its snapshot, so the same ids every time), sends it one request through
`Emulator.handle` (no SDK, to stay fast) and checks that:

- nothing escapes `handle`, and the status is 200 or an OpenAI 4xx, never a 5xx;
- a 4xx body is exactly the error envelope, and a 200 body validates as the SDK's own type;
- `check_invariants()` is empty afterwards, and a 4xx left the stored state unchanged.

Hypothesis runs derandomized with a fixed number of examples, so CI sees the same requests.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from openai.types import (
    FileDeleted,
    FileObject,
    Model,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreSearchResponse,
)
from openai.types.beta import Assistant, AssistantDeleted, Thread, ThreadDeleted
from openai.types.beta.threads import Message, MessageDeleted, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.vector_stores import (
    FileContentResponse,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileDeleted,
)
from pydantic import BaseModel

from emulator import Emulator, RunContext, reply
from emulator.engine.reply import Reply
from emulator.http.routes import INCLUDE_FILE_SEARCH_CONTENT, ROUTES, Handler, resolve
from emulator.wire import decode
from emulator.wire import requests as schemas
from emulator.wire.render import compact_json, pretty_json

API = "https://api.openai.com/v1"
AUTH = {"authorization": "Bearer sk-test", "content-type": "application/json"}
LOOKUP_TOOL = {"type": "function", "function": {"name": "lookup"}}
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the world every example starts from -----------------------------------------------------


def lookup_when_asked(context: RunContext) -> Reply:
    """Calls `lookup` when the user says "call", then answers; otherwise answers at once."""
    if context.new_tool_outputs:
        return reply.text("Looked it up.")
    if "call" in (context.last_user_message or ""):
        return reply.tool_call("lookup", {"q": "x"})
    return reply.text("Hello.")


def send(emu: Emulator, method: str, path: str, body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    response = emu.handle(method, API + path, AUTH, raw)
    assert response.status == 200, response.content
    return response.json()


def upload(emu: Emulator, filename: str, data: bytes, purpose: str = "assistants") -> str:
    """`POST /files` with a hand-made multipart body; the new file's id."""
    head = (
        f'--b0\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
        f'--b0\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'
    )
    body = head.encode() + data + b"\r\n--b0--\r\n"
    multipart = {**AUTH, "content-type": "multipart/form-data; boundary=b0"}
    response = emu.handle("POST", API + "/files", multipart, body)
    assert response.status == 200, response.content
    file_id: str = response.json()["id"]
    return file_id


def build_world() -> tuple[Emulator, dict[str, str]]:
    """Two assistants; threads with a completed run, a run waiting for tool outputs, a held run;
    two files, a vector store holding one, a batch holding the other."""
    emu = Emulator()
    emu.respond_with(lookup_when_asked)
    ids: dict[str, str] = {}
    ids["file"] = upload(emu, "doc.txt", b"The return policy allows refunds within 30 days.")
    ids["other_file"] = upload(emu, "notes.md", b"# Notes\nShipping is free.")
    store = {"file_ids": [ids["file"]], "name": "kb", "metadata": {"k": "v"}}
    ids["vector_store"] = send(emu, "POST", "/vector_stores", store)["id"]
    batch = {"file_ids": [ids["other_file"]], "attributes": {"lang": "en"}}
    ids["batch"] = send(emu, "POST", f"/vector_stores/{ids['vector_store']}/file_batches", batch)[
        "id"
    ]
    asst = {"model": "gpt-4o", "instructions": "Be brief.", "tools": [LOOKUP_TOOL]}
    ids["assistant"] = send(emu, "POST", "/assistants", asst)["id"]
    ids["other_assistant"] = send(emu, "POST", "/assistants", {"model": "gpt-4o-mini"})["id"]
    for name, text in (("thread", "hello"), ("waiting_thread", "please call")):
        body = {"messages": [{"role": "user", "content": text}], "metadata": {"k": "v"}}
        thread = send(emu, "POST", "/threads", body)["id"]
        run = send(emu, "POST", f"/threads/{thread}/runs", {"assistant_id": ids["assistant"]})
        ids[name], ids[f"{name}_run"] = thread, run["id"]
    for name in ("thread", "waiting_thread"):
        thread, run = ids[name], ids[f"{name}_run"]
        ids[f"{name}_message"] = send(emu, "GET", f"/threads/{thread}/messages")["data"][0]["id"]
        steps = send(emu, "GET", f"/threads/{thread}/runs/{run}/steps")
        ids[f"{name}_step"] = steps["data"][0]["id"]
    waiting = send(emu, "GET", f"/threads/{ids['waiting_thread']}/runs/{ids['waiting_thread_run']}")
    ids["call"] = waiting["required_action"]["submit_tool_outputs"]["tool_calls"][0]["id"]
    emu.hold("queued")  # from here on, every new run stays queued (active)
    ids["held_thread"] = send(emu, "POST", "/threads", {})["id"]
    body = {
        "assistant_id": ids["assistant"],
        "additional_messages": [{"role": "user", "content": "x"}],
    }
    ids["held_thread_run"] = send(emu, "POST", f"/threads/{ids['held_thread']}/runs", body)["id"]
    messages = send(emu, "GET", f"/threads/{ids['held_thread']}/messages")
    ids["held_thread_message"] = messages["data"][0]["id"]
    ids["empty_thread"] = send(emu, "POST", "/threads", {})["id"]
    return emu, ids


_BUILT, IDS = build_world()
ID_VALUES = sorted(IDS.values())
_WORLD = _BUILT.snapshot()
_unchanged: list[Emulator] = []  # worlds a 4xx left as built: reused, as building costs ms


def world() -> Emulator:
    """A world as `build_world` makes it, with the ids in `IDS`: restored from its snapshot,
    three times faster than replaying its 17 requests (checked equal just below)."""
    if _unchanged:
        return _unchanged.pop()
    emu = Emulator().load(_WORLD)
    emu.respond_with(lookup_when_asked)
    return emu


def reuse(emu: Emulator, status: int) -> None:
    """Keep a world for the next example if the request was refused (so changed nothing)."""
    if status != 200:
        _unchanged.append(emu)


def fingerprint(emu: Emulator) -> str:
    """Everything a request could change, as text (ids already issued aside)."""
    backend = emu.backend
    store = backend.store
    with store.lock:
        return repr(
            (
                store.assistants.values(),
                store.threads.values(),
                {k: c.values() for k, c in store.messages.items()},
                {k: c.values() for k, c in store.runs.items()},
                {k: c.values() for k, c in store.steps.items()},
                store.active_run,
                store.run_thread,
                store.owner,
                backend.engine.states,
                backend.library.dump(),
            )
        )


_restored = world()  # the snapshot restores the built world, settings and holds included
assert (fingerprint(_restored), _restored.snapshot()) == (fingerprint(_BUILT), _WORLD)


# --- strategies ------------------------------------------------------------------------------


def _schema_fields() -> list[str]:
    names: set[str] = set()
    for model in vars(schemas).values():
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                names.add(field.alias or name)
    return [*sorted(names), "type", "text", "function", "name", "url", "file_id"]


FIELDS = _schema_fields()
WORDS = [
    "",
    "auto",
    "none",
    "required",
    "user",
    "assistant",
    "text",
    "function",
    "image_url",
    "image_file",
    "last_messages",
    "json_object",
    "json_schema",
    "code_interpreter",
    "file_search",
    "lookup",
    "gpt-4o",
    "asc",
    "desc",
]
keys = st.sampled_from(FIELDS) | st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, 1, 2, 255, 256, 257, 1000, 100_000, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(WORDS + ID_VALUES)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=10,
)

# Valid bodies per handler: mutations of them reach past the first validation error.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "create_assistant": {
        "model": "gpt-4o",
        "name": "n",
        "instructions": "i",
        "tools": [LOOKUP_TOOL, {"type": "file_search"}, {"type": "code_interpreter"}],
        "tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}},
        "metadata": {"k": "v"},
        "temperature": 1,
        "top_p": 1,
        "response_format": {"type": "json_object"},
    },
    "modify_assistant": {"name": "m", "tools": [], "metadata": {"a": "b"}, "model": "gpt-4o"},
    "create_thread": {
        "messages": [
            {"role": "user", "content": "hi", "metadata": {"a": "b"}},
            {"role": "assistant", "content": [{"type": "text", "text": "yo"}]},
        ],
        "tool_resources": {"file_search": {"vector_store_ids": [IDS["vector_store"]]}},
        "metadata": {"k": "v"},
    },
    "modify_thread": {"metadata": {"a": "b"}, "tool_resources": {}},
    "create_message": {
        "role": "user",
        "content": [
            {"type": "text", "text": "call"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
        ],
        "attachments": [{"file_id": IDS["file"], "tools": [{"type": "file_search"}]}],
    },
    "modify_message": {"metadata": {"a": "b"}},
    "modify_run": {"metadata": {"a": "b"}},
    "create_run": {
        "assistant_id": IDS["assistant"],
        "model": "gpt-4o",
        "instructions": "i",
        "additional_instructions": "a",
        "additional_messages": [{"role": "user", "content": "call"}],
        "tools": [LOOKUP_TOOL],
        "max_prompt_tokens": 500,
        "max_completion_tokens": 300,
        "truncation_strategy": {"type": "last_messages", "last_messages": 2},
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "parallel_tool_calls": False,
        "response_format": "auto",
        "stream": False,
    },
    "create_thread_and_run": {
        "assistant_id": IDS["assistant"],
        "thread": {"messages": [{"role": "user", "content": "hi"}]},
        "tool_choice": "auto",
        "stream": False,
    },
    "submit_tool_outputs": {"tool_outputs": [{"tool_call_id": IDS["call"], "output": "o"}]},
    "cancel_run": {},
    "create_vector_store": {
        "file_ids": [IDS["file"]],
        "name": "n",
        "description": "d",
        "expires_after": {"anchor": "last_active_at", "days": 2},
        "chunking_strategy": {
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
        },
        "metadata": {"a": "b"},
    },
    "modify_vector_store": {
        "name": "m",
        "expires_after": {"anchor": "last_active_at", "days": 1},
        "metadata": {"a": "b"},
    },
    "search_vector_store": {
        "query": ["refunds", "shipping"],
        "max_num_results": 3,
        "rewrite_query": True,
        "ranking_options": {"ranker": "auto", "score_threshold": 0.1},
        "filters": {
            "type": "or",
            "filters": [{"type": "eq", "key": "lang", "value": "en"}],
        },
    },
    "create_vector_store_file": {
        "file_id": IDS["other_file"],
        "attributes": {"lang": "en", "year": 2024, "draft": False},
        "chunking_strategy": {"type": "auto"},
    },
    "update_vector_store_file": {"attributes": {"lang": "fr"}},
    "create_file_batch": {
        "files": [{"file_id": IDS["file"], "attributes": {"n": 1}}],
    },
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (keys and list indexes), the value itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(body: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """A copy of `body` with the value at `path` replaced, removed, or given an extra key."""
    body = json.loads(json.dumps(body))
    if not path:
        return value if action == "replace" else body
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "remove":
        del parent[last]
    elif action == "extra" and isinstance(parent[last], dict):
        parent[last]["unexpected"] = value
    else:
        parent[last] = value
    return body


@st.composite
def mutated(draw: st.DrawFn, handler: str) -> Any:
    base = VALID_BODIES[handler]
    count = draw(st.sampled_from([0, 0, 1, 1, 2]))
    body: Any = base
    for _ in range(count):
        places = _paths(body)[1:]  # not the body itself: `json_values` covers that
        if not places:
            break
        path = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "remove", "extra"]))
        body = _mutate(body, path, action, draw(json_values))
    if draw(st.booleans()) and isinstance(body, dict) and "stream" in VALID_BODIES[handler]:
        body["stream"] = True
    return body


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


@functools.cache
def bodies(handler: str) -> st.SearchStrategy[bytes]:
    broken = st.one_of(
        st.just(b""),
        st.binary(max_size=24),
        st.sampled_from([b"{", b"null", b"[]", b'"x"', b"1e999", b"{}", b" \n"]),
        json_values.map(encode),
        st.dictionaries(keys, json_values, max_size=5).map(encode),
    )
    if handler not in VALID_BODIES:
        return broken
    return st.one_of(mutated(handler).map(encode), broken)


query_keys = st.sampled_from(
    ["limit", "order", "after", "before", "run_id", "include[]", "include"]
) | st.text(max_size=6)
query_values = (
    st.sampled_from(["1", "2", "100", "0", "101", "-1", "1.5", "asc", "desc", "", "x"])
    | st.sampled_from([INCLUDE_FILE_SEARCH_CONTENT, *ID_VALUES])
    | st.integers().map(str)
    | st.text(max_size=10)
)
queries = st.lists(st.tuples(query_keys, query_values), max_size=4)
# Path parameters that belong together (a run of that thread, ...): these reach the handlers.
ADDRESSES = [
    {
        "assistant_id": IDS["assistant" if name != "waiting_thread" else "other_assistant"],
        "thread_id": IDS[name],
        "run_id": IDS.get(f"{name}_run", "run_none"),
        "message_id": IDS.get(f"{name}_message", "msg_none"),
        "step_id": IDS.get(f"{name}_step", "step_none"),
        "model": "gpt-4o",
        "file_id": IDS["file" if name != "waiting_thread" else "other_file"],
        "vector_store_id": IDS["vector_store"],
        "batch_id": IDS["batch"],
    }
    for name in ("thread", "waiting_thread", "held_thread", "empty_thread")
]
addresses = st.sampled_from([*ADDRESSES, None])
ids = (
    st.sampled_from(ID_VALUES)
    | st.sampled_from(["asst_x", "thread_x", "msg_x", "run_x", "step_x", "call_x", "x"])
    | st.text(min_size=1, max_size=12).filter(lambda s: s.strip("/") == s and "?" not in s)
)
headers = st.sampled_from(
    [AUTH] * 15
    + [
        {},
        {"authorization": "Bearer"},
        {"authorization": "Basic abc"},
        {"Authorization": "bearer sk-other"},
        {"api-key": "sk-azure"},
    ]
)


@functools.cache
def verbs(method: str) -> st.SearchStrategy[str]:
    """Mostly the route's own method, sometimes another."""
    return st.sampled_from([method] * 12 + ["GET", "POST", "DELETE", "PUT"])


_GROUP = re.compile(r"\(\?P<(\w+)>\[\^/\]\+\)")


def template(pattern: str) -> str:
    """`/threads/(?P<thread_id>[^/]+)` -> `/threads/{thread_id}`."""
    return _GROUP.sub(r"{\1}", pattern)


# --- checks ----------------------------------------------------------------------------------

SDK_TYPES: dict[str, type[BaseModel]] = {
    "create_assistant": Assistant,
    "list_assistants": Assistant,
    "get_assistant": Assistant,
    "modify_assistant": Assistant,
    "delete_assistant": AssistantDeleted,
    "create_thread": Thread,
    "get_thread": Thread,
    "modify_thread": Thread,
    "delete_thread": ThreadDeleted,
    "create_message": Message,
    "list_messages": Message,
    "get_message": Message,
    "modify_message": Message,
    "delete_message": MessageDeleted,
    "create_run": Run,
    "create_thread_and_run": Run,
    "list_runs": Run,
    "get_run": Run,
    "modify_run": Run,
    "cancel_run": Run,
    "submit_tool_outputs": Run,
    "list_steps": RunStep,
    "get_step": RunStep,
    "list_models": Model,
    "get_model": Model,
    "create_file": FileObject,
    "list_files": FileObject,
    "get_file": FileObject,
    "delete_file": FileDeleted,
    "create_vector_store": VectorStore,
    "list_vector_stores": VectorStore,
    "get_vector_store": VectorStore,
    "modify_vector_store": VectorStore,
    "delete_vector_store": VectorStoreDeleted,
    "search_vector_store": VectorStoreSearchResponse,
    "create_vector_store_file": VectorStoreFile,
    "list_vector_store_files": VectorStoreFile,
    "get_vector_store_file": VectorStoreFile,
    "update_vector_store_file": VectorStoreFile,
    "delete_vector_store_file": VectorStoreFileDeleted,
    "vector_store_file_content": FileContentResponse,
    "create_file_batch": VectorStoreFileBatch,
    "get_file_batch": VectorStoreFileBatch,
    "cancel_file_batch": VectorStoreFileBatch,
    "list_file_batch_files": VectorStoreFile,
}
PAGES = {  # one-page answers: only `data` is read, each item of the SDK type
    "search_vector_store": ["object", "search_query", "data", "has_more", "next_page"],
    "vector_store_file_content": ["object", "data", "has_more", "next_page"],
    "list_files": ["object", "data", "has_more", "first_id", "last_id"],
    "list_models": ["object", "data"],  # the real model list has no cursors
}
ERROR_STATUSES = {400, 401, 404, 405}


def check_answer(emu: Emulator, method: str, url: str, head: dict[str, str], body: bytes) -> int:
    """Send one request and check everything the module docstring promises; the status."""
    before = fingerprint(emu)
    response = emu.handle(method, url, head, body)
    content = response.content  # a stream runs to its end here
    assert emu.check_invariants() == []
    if response.status != 200:
        assert response.status in ERROR_STATUSES, content
        assert fingerprint(emu) == before, f"a {response.status} changed the state"
        check_error(json.loads(content))
        return response.status
    path = emu.pipeline.request(method, url, {}, b"").path
    handler: Handler = resolve(method.upper(), path)[0]
    if response.events is not None:
        check_stream(content)
    elif handler.__name__ == "file_content":
        assert response.headers["content-type"] == "application/octet-stream"
    else:
        check_object(handler.__name__, json.loads(content))
    return 200


def check_error(body: Any) -> None:
    assert list(body) in (["error"], ["error", "detail"])  # `/files` adds `detail`
    if "detail" in body:
        assert body["detail"] == {"message": body["error"]["message"], "code": None}
    error = body["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["code"] is None or isinstance(error["code"], str)


def check_object(handler: str, body: Any) -> None:
    sdk_type = SDK_TYPES[handler]
    if handler in PAGES:
        assert list(body) == PAGES[handler]
        for item in body["data"]:
            sdk_type.model_validate(item)
    elif handler.startswith("list_"):
        assert list(body) == ["object", "data", "first_id", "last_id", "has_more"]
        for item in body["data"]:
            sdk_type.model_validate(item)
    else:
        sdk_type.model_validate(body)


def check_stream(content: bytes) -> None:
    frames = content.decode().split("\n\n")
    assert frames[-2:] == ["event: done\ndata: [DONE]", ""]
    for frame in frames[:-2]:
        event, data = frame.split("\n", 1)
        assert event.startswith("event: thread."), frame  # no `error` event
        json.loads(data.removeprefix("data: "))


# --- the tests -------------------------------------------------------------------------------

ROUTE_IDS = [f"{method} {template(pattern)}" for method, pattern, _ in ROUTES]


@pytest.mark.parametrize(("method", "pattern", "handler"), ROUTES, ids=ROUTE_IDS)
@FUZZ
@given(data=st.data())
def test_every_route_answers_any_request_in_openai_shape(
    method: str, pattern: str, handler: Handler, data: st.DataObject
) -> None:
    emu = world()
    path = template(pattern)
    address = data.draw(addresses, label="address")
    for name in re.findall(r"{(\w+)}", path):
        value = address[name] if address else data.draw(ids, label=name)
        path = path.replace(f"{{{name}}}", value, 1)
    query = data.draw(queries, label="query")
    url = f"{API}{path}" + (f"?{urlencode(query)}" if query else "")
    verb = data.draw(verbs(method), label="verb")
    body = data.draw(bodies(handler.__name__), label="body")
    reuse(emu, check_answer(emu, verb, url, data.draw(headers, label="headers"), body))


@FUZZ
@given(path=st.text(max_size=40), method=st.sampled_from(["GET", "POST", "DELETE", "PATCH"]))
@example(path="/assistants/", method="GET")
@example(path="//threads", method="POST")
@example(path="/threads/thread_x/runs/run_x/steps/step_x/extra", method="GET")
def test_any_path_is_answered_in_openai_shape(path: str, method: str) -> None:
    emu = world()
    reuse(emu, check_answer(emu, method, API + "/" + path.lstrip("/"), AUTH, b""))


LIST_PATHS = [
    "/assistants",
    f"/threads/{IDS['thread']}/messages",
    f"/threads/{IDS['thread']}/runs",
    f"/threads/{IDS['thread']}/runs/{IDS['thread_run']}/steps",
]


@FUZZ
@given(path=st.sampled_from(LIST_PATHS), query=queries)
@example(path="/assistants", query=[("limit", "9" * 5000)])  # int() refused it: was a 500
@example(path="/assistants", query=[("limit", "-" + "9" * 5000)])
@example(
    path=LIST_PATHS[1], query=[("after", IDS["thread_run"]), ("before", IDS["thread_message"])]
)
def test_list_queries_are_answered_in_openai_shape(path: str, query: list[tuple[str, str]]) -> None:
    emu = world()
    reuse(emu, check_answer(emu, "GET", f"{API}{path}?{urlencode(query)}", AUTH, b""))


# --- sequences -------------------------------------------------------------------------------


class RequestSequences(RuleBasedStateMachine):
    """Random sequences of valid and broken requests, over ids the sequence itself created."""

    assistants = Bundle("assistants")
    threads = Bundle("threads")
    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.emu = Emulator()
        self.emu.respond_with(lookup_when_asked)

    def _created(self, method: str, path: str, body: Any) -> str | None:
        response = self.emu.handle(method, API + path, AUTH, encode(body))
        content = response.content
        assert self.emu.check_invariants() == []
        assert response.status in {200} | ERROR_STATUSES
        if response.status != 200 or response.events is not None:
            return None
        created: str = json.loads(content)["id"]
        return created

    @rule(target=assistants, body=mutated("create_assistant"))
    def create_assistant(self, body: Any) -> str:
        return self._created("POST", "/assistants", body) or "asst_missing"

    @rule(target=threads, body=mutated("create_thread"))
    def create_thread(self, body: Any) -> str:
        return self._created("POST", "/threads", body) or "thread_missing"

    @rule(thread=threads, body=mutated("create_message"))
    def create_message(self, thread: str, body: Any) -> None:
        self._created("POST", f"/threads/{thread}/messages", body)

    @rule(target=runs, thread=threads, assistant=assistants, body=mutated("create_run"))
    def create_run(self, thread: str, assistant: str, body: Any) -> str:
        if isinstance(body, dict) and "assistant_id" in body:
            body["assistant_id"] = assistant
        run = self._created("POST", f"/threads/{thread}/runs", body)
        return f"{thread} {run or 'run_missing'}"

    @rule(run=runs, output=st.text(max_size=5))
    def submit_tool_outputs(self, run: str, output: str) -> None:
        thread_id, run_id = run.split()
        found = self.emu.handle("GET", f"{API}/threads/{thread_id}/runs/{run_id}", AUTH, b"")
        action = json.loads(found.content).get("required_action") if found.status == 200 else None
        calls = action["submit_tool_outputs"]["tool_calls"] if action else [{"id": "call_x"}]
        outputs = [{"tool_call_id": call["id"], "output": output} for call in calls]
        path = f"/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"
        check_answer(self.emu, "POST", API + path, AUTH, encode({"tool_outputs": outputs}))

    @rule(run=runs, verb=st.sampled_from(["cancel", "get", "steps"]))
    def look_at_run(self, run: str, verb: str) -> None:
        thread_id, run_id = run.split()
        path = f"/threads/{thread_id}/runs/{run_id}"
        method = "POST" if verb == "cancel" else "GET"
        suffix = {"cancel": "/cancel", "get": "", "steps": "/steps"}[verb]
        check_answer(self.emu, method, API + path + suffix, AUTH, b"")

    @rule(thread=threads, query=queries)
    def list_messages(self, thread: str, query: list[tuple[str, str]]) -> None:
        url = f"{API}/threads/{thread}/messages?{urlencode(query)}"
        check_answer(self.emu, "GET", url, AUTH, b"")

    @rule(thread=threads)
    def delete_thread(self, thread: str) -> None:
        check_answer(self.emu, "DELETE", f"{API}/threads/{thread}", AUTH, b"")

    @rule(assistant=assistants)
    def delete_assistant(self, assistant: str) -> None:
        check_answer(self.emu, "DELETE", f"{API}/assistants/{assistant}", AUTH, b"")

    @rule(hold=st.sampled_from(["queued", "in_progress", None]))
    def hold_or_release(self, hold: str | None) -> None:
        if hold is None:
            self.emu.release()
        else:
            self.emu.hold(hold)  # type: ignore[arg-type]

    @invariant()
    def consistent(self) -> None:
        assert self.emu.check_invariants() == []


RequestSequences.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_request_sequences_keep_the_state_consistent = RequestSequences.TestCase


# --- decoding and rendering ------------------------------------------------------------------

json_documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def _spell_floats_as_json_does(body: bytes) -> bytes:
    """The body with every float written by `json` (orjson spells some otherwise)."""
    return json.dumps(json.loads(body), indent=2).encode()


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(value=json_documents)
@example(value={"a": [], "b": {}, "c": [1.5, 1e-05, 1e16, True, None, "é\n\u2028\U0001f600"]})
@example(value={1: "non-string key", None: "falls back to json"})
@example(value=[2**70, "\ud800 lone surrogate"])
def test_pretty_json_writes_what_json_dumps_writes(value: Any) -> None:
    """Same layout, same ASCII escapes, same values: `json.dumps(value, indent=2)` but faster."""
    body = pretty_json(value)
    assert body == json.dumps(value, indent=2).encode() or (
        _spell_floats_as_json_does(body) == json.dumps(value, indent=2).encode()
    )


@given(value=json_documents)
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_compact_json_writes_what_json_dumps_writes(value: Any) -> None:
    data = compact_json(value)
    expected = json.dumps(value, separators=(",", ":"))
    assert data == expected or json.dumps(json.loads(data), separators=(",", ":")) == expected


def test_non_finite_floats_are_written_as_null_never_as_invalid_json() -> None:
    assert json.loads(pretty_json({"score": float("nan"), "x": float("inf")})) == {
        "score": None,
        "x": None,
    }


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(value=json_documents, spacing=st.sampled_from([None, 2]), ascii_only=st.booleans())
@example(value=[2**64, -(2**63) - 1, 10**40, 1e16], spacing=None, ascii_only=True)
@example(value=["\ud800 lone surrogate", "\u2028"], spacing=None, ascii_only=False)
def test_bodies_decode_as_the_standard_parser_reads_them(
    value: Any, spacing: int | None, ascii_only: bool
) -> None:
    """orjson reads the common bodies; whatever it reads differently goes the standard way."""
    raw = json.dumps(value, indent=spacing, ensure_ascii=ascii_only)
    body = raw.encode("utf-8", "surrogatepass")
    assert decode.loads(body, max_depth=100) == json.loads(body) == value


@pytest.mark.parametrize(
    "raw", [b"\xef\xbb\xbf{}", b'"\xed\xa0\x80"', b'"\\ud800"', b'{"n": 18446744073709551616}']
)
def test_bodies_orjson_does_not_read_are_read_the_standard_way(raw: bytes) -> None:
    assert decode.loads(raw, max_depth=100) == json.loads(raw)


@pytest.mark.parametrize(
    "raw", [b"1e999", b"[1E400]", b"-1" + b"0" * 400 + b".5", b"NaN", b'{"a":1,}']
)
def test_bodies_neither_parser_accepts_are_not_json(raw: bytes) -> None:
    with pytest.raises(decode.NotJSON):
        decode.loads(raw, max_depth=100)
