"""Messages: create, retrieve, update, delete and list (with the `run_id` filter)."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from conftest import RealIds, conforming
from openai.types.beta import Thread
from openai.types.beta.threads import Message, MessageDeleted

from emulator import Emulator

KEY_ORDER = [
    "id",
    "object",
    "created_at",
    "assistant_id",
    "thread_id",
    "run_id",
    "status",
    "incomplete_details",
    "incomplete_at",
    "completed_at",
    "role",
    "content",
    "attachments",
    "metadata",
]


@pytest.fixture
def thread(strict_client: openai.OpenAI) -> Thread:
    return strict_client.beta.threads.create()


def test_create(strict_client: openai.OpenAI, thread: Thread) -> None:
    response = strict_client.beta.threads.messages.with_raw_response.create(
        thread.id, role="user", content="Hello!"
    )
    raw = response.http_response.json()

    assert list(raw) == KEY_ORDER
    assert raw == {
        "id": raw["id"],
        "object": "thread.message",
        "created_at": 1714000000,
        "assistant_id": None,
        "thread_id": thread.id,
        "run_id": None,
        "status": "completed",
        "incomplete_details": None,
        "incomplete_at": None,
        "completed_at": 1714000000,
        "role": "user",
        "content": [{"type": "text", "text": {"value": "Hello!", "annotations": []}}],
        "attachments": [],
        "metadata": {},
    }
    assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", raw["id"])
    conforming(Message, raw)


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        ("plain", [{"type": "text", "text": {"value": "plain", "annotations": []}}]),
        (
            [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            [
                {"type": "text", "text": {"value": "a", "annotations": []}},
                {"type": "text", "text": {"value": "b", "annotations": []}},
            ],
        ),
        (
            [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
            [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "auto"},
                }
            ],
        ),
        (
            [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "high"},
                }
            ],
            [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "high"},
                }
            ],
        ),
        (
            [{"type": "image_file", "image_file": {"file_id": "file-1"}}],
            [{"type": "image_file", "image_file": {"file_id": "file-1", "detail": "auto"}}],
        ),
    ],
    ids=["string", "text-parts", "image-url", "image-url-detail", "image-file"],
)
def test_content_is_stored_as_parts(
    strict_client: openai.OpenAI, emu: Emulator, thread: Thread, content: Any, stored: list[Any]
) -> None:
    message = strict_client.beta.threads.messages.create(thread.id, role="user", content=content)

    assert emu.messages(thread.id)[0]["content"] == stored
    assert [part.model_dump() for part in message.content] == stored


def test_assistant_role_attachments_and_metadata(
    strict_client: openai.OpenAI, emu: Emulator, thread: Thread
) -> None:
    file_id = RealIds(strict_client)("file-1")
    attachments = [{"file_id": file_id, "tools": [{"type": "code_interpreter"}]}]

    message = strict_client.beta.threads.messages.create(
        thread.id, role="assistant", content="Noted.", attachments=attachments, metadata={"k": "v"}
    )

    stored = emu.messages(thread.id)[0]
    assert (stored["role"], stored["attachments"], stored["metadata"]) == (
        "assistant",
        attachments,
        {"k": "v"},
    )
    assert message.role == "assistant"
    assert emu.requests[-1].json() == {
        "role": "assistant",
        "content": "Noted.",
        "attachments": attachments,
        "metadata": {"k": "v"},
    }


def test_retrieve(strict_client: openai.OpenAI, thread: Thread) -> None:
    created = strict_client.beta.threads.messages.with_raw_response.create(
        thread.id, role="user", content="x"
    ).http_response.json()

    raw = strict_client.beta.threads.messages.with_raw_response.retrieve(
        created["id"], thread_id=thread.id
    ).http_response.json()

    assert raw == created


def test_a_message_is_only_found_in_its_own_thread(
    strict_client: openai.OpenAI, thread: Thread
) -> None:
    other = strict_client.beta.threads.create()
    message = strict_client.beta.threads.messages.create(thread.id, role="user", content="x")

    with pytest.raises(openai.NotFoundError, match=f"No message found with id '{message.id}'."):
        strict_client.beta.threads.messages.retrieve(message.id, thread_id=other.id)


def test_update_changes_only_metadata(
    strict_client: openai.OpenAI, emu: Emulator, thread: Thread
) -> None:
    message = strict_client.beta.threads.messages.create(
        thread.id, role="user", content="x", metadata={"a": "1"}
    )
    before = emu.messages(thread.id)[0]

    updated = strict_client.beta.threads.messages.update(
        message.id, thread_id=thread.id, metadata={"b": "2"}
    )

    assert updated.metadata == {"b": "2"}
    assert emu.messages(thread.id)[0] == before | {"metadata": {"b": "2"}}
    with pytest.raises(openai.BadRequestError, match="Unknown parameter: 'content'"):
        strict_client.beta.threads.messages.update(
            message.id, thread_id=thread.id, extra_body={"content": "changed"}
        )
    assert emu.messages(thread.id)[0]["content"] == before["content"]


def test_delete(strict_client: openai.OpenAI, emu: Emulator, thread: Thread) -> None:
    keep = strict_client.beta.threads.messages.create(thread.id, role="user", content="keep")
    gone = strict_client.beta.threads.messages.create(thread.id, role="user", content="gone")

    raw = strict_client.beta.threads.messages.with_raw_response.delete(
        gone.id, thread_id=thread.id
    ).http_response.json()

    assert raw == {"id": gone.id, "object": "thread.message.deleted", "deleted": True}
    conforming(MessageDeleted, raw)
    assert [m["id"] for m in emu.messages(thread.id)] == [keep.id]
    with pytest.raises(openai.NotFoundError, match=gone.id):
        strict_client.beta.threads.messages.retrieve(gone.id, thread_id=thread.id)


def test_list_filters_by_run_id(strict_client: openai.OpenAI, emu: Emulator) -> None:
    assistant = strict_client.beta.assistants.create(model="gpt-4o", instructions="Reply.")
    thread = strict_client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    run = strict_client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    strict_client.beta.threads.messages.create(thread.id, role="user", content="Thanks")

    from_run = strict_client.beta.threads.messages.list(thread.id, run_id=run.id)

    assert run.status == "completed"
    assert [m.run_id for m in from_run] == [run.id]
    [reply] = from_run.data
    assert (reply.role, reply.assistant_id, reply.thread_id) == (
        "assistant",
        assistant.id,
        thread.id,
    )
    assert emu.requests[-1].query == [("run_id", run.id)]
    raw = strict_client.beta.threads.messages.with_raw_response.list(thread.id).http_response
    assert [conforming(Message, m).role for m in raw.json()["data"]] == [
        "user",
        "assistant",
        "user",
    ]
    assert strict_client.beta.threads.messages.list(thread.id, run_id="run_other").data == []


@pytest.mark.anyio
async def test_every_endpoint_through_the_async_sdk(
    strict_async_client: openai.AsyncOpenAI, emu: Emulator
) -> None:
    thread = await strict_async_client.beta.threads.create()
    messages = strict_async_client.beta.threads.messages
    created = await messages.create(thread.id, role="user", content="hi")

    assert await messages.retrieve(created.id, thread_id=thread.id) == created
    updated = await messages.update(created.id, thread_id=thread.id, metadata={"seen": "yes"})
    assert updated.metadata == {"seen": "yes"}
    assert [m.id async for m in messages.list(thread.id)] == [created.id]
    deleted = await messages.delete(created.id, thread_id=thread.id)

    assert (deleted.id, deleted.deleted) == (created.id, True)
    assert emu.messages(thread.id) == []
