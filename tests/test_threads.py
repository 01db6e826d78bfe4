"""Threads: create (with messages, tool resources, metadata), retrieve, update and delete."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from conftest import RealIds, conforming
from openai.types.beta import Thread, ThreadDeleted
from openai.types.beta.threads import Message

from emulator import Emulator


def test_create_without_arguments(strict_client: openai.OpenAI, emu: Emulator) -> None:
    raw = strict_client.beta.threads.with_raw_response.create().http_response.json()

    assert emu.requests[0].json() == {}
    assert list(raw) == ["id", "object", "created_at", "metadata", "tool_resources"]
    assert raw == {
        "id": raw["id"],
        "object": "thread",
        "created_at": 1714000000,
        "metadata": {},
        "tool_resources": {},
    }
    assert re.fullmatch(r"thread_[A-Za-z0-9]{24}", raw["id"])
    conforming(Thread, raw)
    assert emu.messages(raw["id"]) == []


def test_create_from_a_raw_client_without_a_body(emu: Emulator) -> None:
    import httpx

    response = httpx.post(
        "https://api.openai.com/v1/threads", headers={"Authorization": "Bearer sk-test"}
    )

    assert response.status_code == 200
    assert list(emu.threads) == [response.json()["id"]]


def test_retrieve_shows_code_interpreter_resources(strict_client: openai.OpenAI) -> None:
    """Real quirk [RT §2]: create says `{}`, retrieve says `{"code_interpreter": ...}`."""
    store_id = RealIds(strict_client)("vs_abc")
    thread = strict_client.beta.threads.create(
        tool_resources={"file_search": {"vector_store_ids": [store_id]}}
    )

    raw = strict_client.beta.threads.with_raw_response.retrieve(thread.id).http_response.json()

    assert raw["tool_resources"] == {
        "code_interpreter": {"file_ids": []},
        "file_search": {"vector_store_ids": [store_id]},
    }
    assert {k: v for k, v in raw.items() if k != "tool_resources"} == thread.model_dump(
        exclude={"tool_resources"}
    )
    conforming(Thread, raw)


def test_create_with_initial_messages(strict_client: openai.OpenAI, emu: Emulator) -> None:
    doc = RealIds(strict_client)("file-doc")
    thread = strict_client.beta.threads.create(
        messages=[
            {"role": "user", "content": "Hello"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
                ],
                "attachments": [{"file_id": doc, "tools": [{"type": "file_search"}]}],
                "metadata": {"source": "upload"},
            },
            {"role": "assistant", "content": "A cat."},
        ],
        metadata={"user": "u-1"},
    )

    first, second, third = emu.messages(thread.id)
    assert [m["role"] for m in (first, second, third)] == ["user", "user", "assistant"]
    assert first["content"] == [{"type": "text", "text": {"value": "Hello", "annotations": []}}]
    assert second["content"] == [
        {"type": "text", "text": {"value": "What is in this image?", "annotations": []}},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.png", "detail": "auto"},
        },
        {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
    ]
    assert second["attachments"] == [{"file_id": doc, "tools": [{"type": "file_search"}]}]
    assert second["metadata"] == {"source": "upload"}
    for message in (first, second, third):
        assert message["thread_id"] == thread.id
        assert (message["assistant_id"], message["run_id"]) == (None, None)
        assert message["created_at"] == thread.created_at
        conforming(Message, message)
    assert thread.metadata == {"user": "u-1"}
    # Messages created together list newest first by default (reverse insertion).
    listed = strict_client.beta.threads.messages.list(thread.id)
    assert [m.id for m in listed] == [third["id"], second["id"], first["id"]]


@pytest.mark.parametrize(
    ("tool_resources", "expected"),
    [
        (
            {"code_interpreter": {"file_ids": ["file-1"]}},
            {"code_interpreter": {"file_ids": ["file-1"]}},
        ),
        (
            {"file_search": {"vector_store_ids": ["vs_1"]}},
            {"file_search": {"vector_store_ids": ["vs_1"]}},
        ),
        (
            {"code_interpreter": {"file_ids": []}, "file_search": {"vector_store_ids": []}},
            {"code_interpreter": {"file_ids": []}, "file_search": {"vector_store_ids": []}},
        ),
    ],
)
def test_create_with_tool_resources(
    strict_client: openai.OpenAI, tool_resources: dict[str, Any], expected: dict[str, Any]
) -> None:
    real = RealIds(strict_client)
    raw = strict_client.beta.threads.with_raw_response.create(tool_resources=real(tool_resources))

    assert raw.http_response.json()["tool_resources"] == real(expected)


def test_create_and_run_gives_the_new_thread_the_runs_tool_resources(
    strict_client: openai.OpenAI,
) -> None:
    """`threads.create_and_run` takes `tool_resources` beside `thread`: they are the new
    thread's."""
    real = RealIds(strict_client)
    assistant = strict_client.beta.assistants.create(model="gpt-4o", instructions="Answer.")
    run = strict_client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Hello"}]},
        tool_resources=real({"code_interpreter": {"file_ids": ["file-1"]}}),
    )

    thread = strict_client.beta.threads.retrieve(run.thread_id)
    assert run.status == "completed"
    assert thread.model_dump()["tool_resources"]["code_interpreter"] == real(
        {"file_ids": ["file-1"]}
    )


def test_vector_stores_helper_makes_a_vector_store(strict_client: openai.OpenAI) -> None:
    thread = strict_client.beta.threads.create(
        tool_resources={
            "file_search": {"vector_stores": [{"file_ids": [RealIds(strict_client)("file-1")]}]}
        }
    )

    assert thread.tool_resources and thread.tool_resources.file_search
    [store_id] = thread.tool_resources.file_search.vector_store_ids or []
    assert store_id.startswith("vs_")


def test_update_metadata_and_tool_resources(strict_client: openai.OpenAI, emu: Emulator) -> None:
    real = RealIds(strict_client)
    thread = strict_client.beta.threads.create(
        metadata={"a": "1"}, tool_resources=real({"code_interpreter": {"file_ids": ["file-1"]}})
    )

    updated = strict_client.beta.threads.update(thread.id, metadata={"b": "2"})
    assert updated.metadata == {"b": "2"}
    assert updated.tool_resources == thread.tool_resources

    updated = strict_client.beta.threads.update(
        thread.id, tool_resources=real({"file_search": {"vector_store_ids": ["vs_2"]}})
    )
    assert emu.threads[thread.id] == {
        "id": thread.id,
        "object": "thread",
        "created_at": thread.created_at,
        "metadata": {"b": "2"},
        "tool_resources": real({"file_search": {"vector_store_ids": ["vs_2"]}}),
    }
    assert strict_client.beta.threads.update(thread.id).metadata == {"b": "2"}  # empty body


def test_delete_removes_the_thread_and_its_messages(
    strict_client: openai.OpenAI, emu: Emulator
) -> None:
    keep = strict_client.beta.threads.create(messages=[{"role": "user", "content": "keep"}])
    gone = strict_client.beta.threads.create(messages=[{"role": "user", "content": "gone"}] * 3)
    [message] = [m["id"] for m in emu.messages(gone.id)][:1]

    raw = strict_client.beta.threads.with_raw_response.delete(gone.id).http_response.json()

    assert raw == {"id": gone.id, "object": "thread.deleted", "deleted": True}
    conforming(ThreadDeleted, raw)
    assert list(emu.threads) == [keep.id]
    assert len(emu.messages(keep.id)) == 1
    with pytest.raises(KeyError):
        emu.messages(gone.id)
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.threads.retrieve(gone.id)
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.threads.messages.list(gone.id)
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.threads.messages.retrieve(message, thread_id=gone.id)
    assert emu.check_invariants() == []


@pytest.mark.anyio
async def test_every_endpoint_through_the_async_sdk(
    strict_async_client: openai.AsyncOpenAI, emu: Emulator
) -> None:
    threads = strict_async_client.beta.threads
    created = await threads.create(
        messages=[{"role": "user", "content": "hi"}], metadata={"a": "b"}
    )

    fetched = await threads.retrieve(created.id)
    assert (fetched.id, fetched.metadata) == (created.id, {"a": "b"})
    assert (await threads.update(created.id, metadata={})).metadata == {}
    deleted = await threads.delete(created.id)

    assert (deleted.id, deleted.deleted, deleted.object) == (created.id, True, "thread.deleted")
    assert emu.threads == {}


@pytest.mark.parametrize(
    ("call", "message", "param"),
    [
        (
            lambda c, t: c.beta.threads.update(
                t, tool_resources={"file_search": {"vector_stores": [{"file_ids": []}]}}
            ),
            "Unknown parameter: 'tool_resources.file_search.vector_stores'.",
            "tool_resources.file_search.vector_stores",
        ),
        (
            lambda c, t: c.beta.threads.create(
                tool_resources={
                    "file_search": {"vector_store_ids": ["vs_1"], "vector_stores": [{}]}
                }
            ),
            "Invalid 'tool_resources.file_search': provide either 'vector_store_ids' or "
            "'vector_stores', not both.",
            "tool_resources.file_search",
        ),
        (
            lambda c, t: c.beta.threads.create(
                tool_resources={"file_search": {"vector_stores": [{}, {}]}}
            ),
            "Invalid 'tool_resources.file_search.vector_stores': array too long. Expected an "
            "array with maximum length 1, but got an array with length 2 instead.",
            "tool_resources.file_search.vector_stores",
        ),
    ],
    ids=["helper-on-update", "ids-and-helper", "two-stores"],
)
def test_vector_store_rules(
    strict_client: openai.OpenAI, emu: Emulator, call: Any, message: str, param: str
) -> None:
    thread = strict_client.beta.threads.create()
    before = emu.threads

    with pytest.raises(openai.BadRequestError) as caught:
        call(strict_client, thread.id)

    assert (caught.value.body["message"], caught.value.param) == (message, param)  # type: ignore[index]
    assert emu.threads == before
