"""Assistants: create, retrieve, update, delete and list, shaped as the real service sent them."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from conftest import conforming
from openai.types.beta import Assistant, AssistantDeleted

from emulator import Emulator

KEY_ORDER = [
    "id",
    "object",
    "created_at",
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "top_p",
    "temperature",
    "reasoning_effort",
    "tool_resources",
    "metadata",
    "response_format",
]


def test_create_with_defaults(strict_client: openai.OpenAI) -> None:
    raw = strict_client.beta.assistants.with_raw_response.create(model="gpt-4o").http_response
    body = raw.json()

    assert list(body) == KEY_ORDER
    assert body == {
        "id": body["id"],
        "object": "assistant",
        "created_at": 1714000000,
        "name": None,
        "description": None,
        "model": "gpt-4o",
        "instructions": None,
        "tools": [],
        "top_p": 1.0,
        "temperature": 1.0,
        "reasoning_effort": None,
        "tool_resources": {},
        "metadata": {},
        "response_format": "auto",
    }
    assert isinstance(body["top_p"], float) and isinstance(body["temperature"], float)
    assert re.fullmatch(r"asst_[A-Za-z0-9]{24}", body["id"])
    conforming(Assistant, body)


def test_create_with_every_field(strict_client: openai.OpenAI, emu: Emulator) -> None:
    assistant = strict_client.beta.assistants.create(
        model="gpt-4o-mini",
        name="Math tutor",
        description="Helps with sums",
        instructions="Be precise.",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": ["file-abc"]}},
        metadata={"team": "math"},
        temperature=0.2,
        top_p=0.5,
        reasoning_effort="low",
        response_format={"type": "json_object"},
    )

    stored = emu.assistants[assistant.id]
    assert {k: stored[k] for k in KEY_ORDER[3:]} == {
        "name": "Math tutor",
        "description": "Helps with sums",
        "model": "gpt-4o-mini",
        "instructions": "Be precise.",
        "tools": [{"type": "code_interpreter"}],
        "top_p": 0.5,
        "temperature": 0.2,
        "reasoning_effort": "low",
        "tool_resources": {"code_interpreter": {"file_ids": ["file-abc"]}},
        "metadata": {"team": "math"},
        "response_format": {"type": "json_object"},
    }
    assert strict_client.beta.assistants.retrieve(assistant.id) == assistant


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        pytest.param(
            {"name": "get_time"},
            {
                "name": "get_time",  # no "description" key: the spec has no null there
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
            },
            id="defaults",
        ),
        pytest.param(
            {
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            },
            {
                "name": "get_weather",
                "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            },
            id="everything",
        ),
    ],
)
def test_function_tools_are_echoed_with_strict_and_parameters(
    strict_client: openai.OpenAI, sent: dict[str, Any], echoed: dict[str, Any]
) -> None:
    response = strict_client.beta.assistants.with_raw_response.create(
        model="gpt-4o", tools=[{"type": "function", "function": sent}]
    )

    assert response.http_response.json()["tools"] == [{"type": "function", "function": echoed}]
    assert response.parse().tools[0].function.model_dump(exclude_unset=True) == echoed  # type: ignore[union-attr]


def test_file_search_tool_echo(strict_client: openai.OpenAI) -> None:
    response = strict_client.beta.assistants.with_raw_response.create(
        model="gpt-4o", tools=[{"type": "file_search"}]
    )

    assert response.http_response.json()["tools"] == [
        {
            "type": "file_search",
            "file_search": {  # no max_num_results key [files-vector-stores.md §9.3]
                "ranking_options": {
                    "ranker": "default_2024_08_21",
                    "score_threshold": 0.0,
                    "hybrid_search": None,
                },
            },
        }
    ]


@pytest.mark.parametrize(
    ("tools", "tool_resources", "expected"),
    [
        ([], None, {}),
        ([{"type": "function", "function": {"name": "f"}}], None, {}),
        ([{"type": "code_interpreter"}], None, {"code_interpreter": {"file_ids": []}}),
        ([{"type": "file_search"}], None, {"file_search": {"vector_store_ids": []}}),
        (
            [{"type": "file_search"}],
            {"file_search": {"vector_store_ids": ["vs_1"]}},
            {"file_search": {"vector_store_ids": ["vs_1"]}},
        ),
        (
            [],
            {"code_interpreter": {"file_ids": ["file-1", "file-2"]}},
            {"code_interpreter": {"file_ids": ["file-1", "file-2"]}},
        ),
    ],
)
def test_tool_resources_follow_the_tools(
    strict_client: openai.OpenAI,
    tools: list[Any],
    tool_resources: dict[str, Any] | None,
    expected: dict[str, Any],
) -> None:
    response = strict_client.beta.assistants.with_raw_response.create(
        model="gpt-4o", tools=tools, tool_resources=tool_resources
    )

    assert response.http_response.json()["tool_resources"] == expected


def test_vector_stores_helper_makes_a_vector_store(strict_client: openai.OpenAI) -> None:
    assistant = strict_client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": ["file-1"]}]}},
    )

    assert assistant.tool_resources and assistant.tool_resources.file_search
    [store_id] = assistant.tool_resources.file_search.vector_store_ids or []
    assert store_id.startswith("vs_")


def test_retrieve_returns_the_stored_assistant(strict_client: openai.OpenAI) -> None:
    created = strict_client.beta.assistants.with_raw_response.create(
        model="gpt-4o", name="a", tools=[{"type": "code_interpreter"}]
    ).http_response.json()

    fetched = strict_client.beta.assistants.with_raw_response.retrieve(created["id"])

    assert fetched.http_response.json() == created
    assert fetched.parse() == Assistant.model_validate(created)


def test_update_changes_only_what_was_sent(strict_client: openai.OpenAI, emu: Emulator) -> None:
    assistant = strict_client.beta.assistants.create(
        model="gpt-4o",
        name="before",
        instructions="Keep me.",
        tools=[{"type": "code_interpreter"}],
        metadata={"a": "1", "b": "2"},
    )
    before = emu.assistants[assistant.id]

    updated = strict_client.beta.assistants.update(
        assistant.id, name="after", metadata={"c": "3"}, temperature=0.5
    )

    after = emu.assistants[assistant.id]
    assert updated.model_dump(exclude_unset=True) == after | {"reasoning_effort": None}
    changed = {k for k in KEY_ORDER if before[k] != after[k]}
    assert changed == {"name", "metadata", "temperature"}
    assert (after["name"], after["metadata"], after["temperature"]) == ("after", {"c": "3"}, 0.5)
    assert after["created_at"] == before["created_at"]


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        ({"name": None}, "name", None),
        ({"instructions": "New."}, "instructions", "New."),
        ({"model": "gpt-4.1"}, "model", "gpt-4.1"),
        ({"tools": []}, "tools", []),
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools",
            [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {"type": "object", "properties": {}},
                        "strict": False,
                    },
                }
            ],
        ),
        ({"metadata": {}}, "metadata", {}),
        (
            {"tool_resources": {"code_interpreter": {"file_ids": ["file-9"]}}},
            "tool_resources",
            {"code_interpreter": {"file_ids": ["file-9"]}},
        ),
        ({"response_format": "auto"}, "response_format", "auto"),
        ({"top_p": 0.1}, "top_p", 0.1),
    ],
)
def test_update_one_field(
    strict_client: openai.OpenAI, emu: Emulator, change: dict[str, Any], field: str, value: Any
) -> None:
    assistant = strict_client.beta.assistants.create(
        model="gpt-4o", name="bot", tools=[{"type": "code_interpreter"}], metadata={"k": "v"}
    )

    raw = strict_client.beta.assistants.with_raw_response.update(assistant.id, **change)

    assert raw.http_response.json()[field] == value
    assert emu.assistants[assistant.id][field] == value
    conforming(Assistant, raw.http_response.json())


def test_delete(strict_client: openai.OpenAI, emu: Emulator) -> None:
    keep = strict_client.beta.assistants.create(model="gpt-4o")
    gone = strict_client.beta.assistants.create(model="gpt-4o")

    raw = strict_client.beta.assistants.with_raw_response.delete(gone.id).http_response.json()

    assert raw == {"id": gone.id, "object": "assistant.deleted", "deleted": True}
    conforming(AssistantDeleted, raw)
    assert list(emu.assistants) == [keep.id]
    assert [a.id for a in strict_client.beta.assistants.list()] == [keep.id]
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.assistants.retrieve(gone.id)
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.assistants.delete(gone.id)


def test_list_newest_first_with_every_item_valid(strict_client: openai.OpenAI) -> None:
    ids = [strict_client.beta.assistants.create(model="gpt-4o").id for _ in range(3)]

    raw = strict_client.beta.assistants.with_raw_response.list().http_response.json()

    assert raw == {
        "object": "list",
        "data": raw["data"],
        "first_id": ids[-1],
        "last_id": ids[0],
        "has_more": False,
    }
    assert [conforming(Assistant, item).id for item in raw["data"]] == ids[::-1]


@pytest.mark.anyio
async def test_every_endpoint_through_the_async_sdk(
    strict_async_client: openai.AsyncOpenAI, emu: Emulator
) -> None:
    assistants = strict_async_client.beta.assistants
    created = await assistants.create(model="gpt-4o", name="async", metadata={"x": "1"})

    assert await assistants.retrieve(created.id) == created
    updated = await assistants.update(created.id, description="now described")
    assert updated.description == "now described"
    assert [a.id async for a in assistants.list()] == [created.id]
    deleted = await assistants.delete(created.id)

    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "assistant.deleted")
    assert emu.assistants == {}
    assert [r.method for r in emu.requests] == ["POST", "GET", "POST", "GET", "DELETE"]


# --- ids -------------------------------------------------------------------------------------


def _make_ids(seed: int | str) -> list[str]:
    with Emulator(seed=seed):
        sdk = openai.OpenAI(api_key="sk-test")
        assistant = sdk.beta.assistants.create(model="gpt-4o")
        thread = sdk.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        message = sdk.beta.threads.messages.create(thread.id, role="user", content="again")
        return [assistant.id, thread.id, message.id]


def test_ids_look_real() -> None:
    patterns = [r"asst_[A-Za-z0-9]{24}", r"thread_[A-Za-z0-9]{24}", r"msg_[A-Za-z0-9]{24}"]

    for pattern, object_id in zip(patterns, _make_ids(0), strict=True):
        assert re.fullmatch(pattern, object_id)


def test_ids_are_deterministic_for_a_seed() -> None:
    assert _make_ids(42) == _make_ids(42)
    assert _make_ids("ci") == _make_ids("ci")
    assert set(_make_ids(42)).isdisjoint(_make_ids(43))
