"""Vector stores through the official SDK: stores, their files, batches, search, ingestion in
every progress mode, expiry, and the links from assistants and threads (files-vector-stores.md
§3-§9)."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import RealIds
from files_support import assert_conforms, message, raw

from emulator import Emulator
from emulator.retrieval import FileChunk

POLICY = b"Refunds are accepted within 30 days of delivery. The return policy covers all items."
SHIPPING = b"Shipping is free for orders above 50 euros. Delivery takes three days."
STORE_KEYS = [
    "id",
    "object",
    "created_at",
    "name",
    "description",
    "usage_bytes",
    "file_counts",
    "status",
    "expires_after",
    "expires_at",
    "last_active_at",
    "metadata",
]
STORE_FILE_KEYS = [
    "id",
    "object",
    "usage_bytes",
    "created_at",
    "vector_store_id",
    "status",
    "last_error",
    "chunking_strategy",
    "attributes",
]
AUTO = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}


def upload(client: openai.OpenAI, name: str, data: bytes) -> str:
    return client.files.create(file=(name, data), purpose="assistants").id


@pytest.fixture
def policy(client: openai.OpenAI) -> str:
    return upload(client, "policy.txt", POLICY)


@pytest.fixture
def shipping(client: openai.OpenAI) -> str:
    return upload(client, "shipping.md", SHIPPING)


def state(emu: Emulator) -> Any:
    return (emu.files, emu.vector_stores, emu.assistants, emu.threads, emu.backend.library.dump())


# --- stores ----------------------------------------------------------------------------------


def test_create_answers_in_progress_then_reads_completed(
    client: openai.OpenAI, emu: Emulator, policy: str
) -> None:
    created = raw(
        client.vector_stores.with_raw_response.create(
            name="kb",
            file_ids=[policy],
            expires_after={"anchor": "last_active_at", "days": 3},
            metadata={"k": "v"},
        )
    )

    assert list(created) == STORE_KEYS
    assert re.fullmatch(r"vs_[0-9a-f]{32}", created["id"])
    assert (created["status"], created["usage_bytes"]) == ("in_progress", 0)
    assert created["file_counts"] == {
        "in_progress": 1,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
        "total": 1,
    }
    assert created["expires_at"] == created["last_active_at"] + 3 * 86_400
    assert_conforms("VectorStoreObject", created)
    done = raw(client.vector_stores.with_raw_response.retrieve(created["id"]))
    assert (done["status"], done["usage_bytes"]) == ("completed", len(POLICY))
    assert done["file_counts"]["completed"] == 1
    assert emu.vector_stores[created["id"]] == done


def test_an_empty_store_is_completed_with_the_documented_name(client: openai.OpenAI) -> None:
    body = raw(client.vector_stores.with_raw_response.create())

    assert (body["status"], body["name"], body["description"]) == ("completed", "", None)
    assert (body["expires_after"], body["expires_at"], body["metadata"]) == (None, None, {})
    assert_conforms("VectorStoreObject", body)


def test_update_list_and_delete(client: openai.OpenAI, emu: Emulator) -> None:
    stores = [client.vector_stores.create(name=f"s{n}") for n in range(3)]

    updated = client.vector_stores.update(
        stores[0].id, name="renamed", expires_after={"anchor": "last_active_at", "days": 1}
    )
    assert (updated.name, updated.expires_at) == ("renamed", updated.last_active_at + 86_400)
    assert client.vector_stores.update(stores[0].id, expires_after=None).expires_at is None
    assert client.vector_stores.update(stores[0].id, metadata={"a": "b"}).name == "renamed"
    listed = raw(client.vector_stores.with_raw_response.list(limit=2))
    assert [s["id"] for s in listed["data"]] == [stores[2].id, stores[1].id]
    assert listed["has_more"] is True
    deleted = raw(client.vector_stores.with_raw_response.delete(stores[1].id))
    assert list(deleted.items()) == [
        ("id", stores[1].id),
        ("object", "vector_store.deleted"),
        ("deleted", True),
    ]
    assert_conforms("DeleteVectorStoreResponse", deleted)
    assert list(emu.vector_stores) == [stores[0].id, stores[2].id]


def test_unknown_stores_are_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.vector_stores.retrieve("vs_missing")

    assert message(caught.value) == "No vector store found with id 'vs_missing'."


# --- files of a store ------------------------------------------------------------------------


def test_store_files_create_retrieve_update_list_delete(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create()
    store_files = client.vector_stores.files

    created = raw(
        store_files.with_raw_response.create(
            vector_store_id=store.id, file_id=policy, attributes={"lang": "en", "year": 2024}
        )
    )
    assert list(created) == STORE_FILE_KEYS
    assert (created["id"], created["status"], created["chunking_strategy"]) == (
        policy,
        "in_progress",
        AUTO,
    )
    assert_conforms("VectorStoreFileObject", created)
    done = store_files.create_and_poll(
        file_id=shipping,
        vector_store_id=store.id,
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100},
        },
        poll_interval_ms=3_600_000,  # resting progress: the first GET is final, no sleep
    )
    assert (done.status, done.usage_bytes) == ("completed", len(SHIPPING))
    assert done.chunking_strategy.model_dump() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100},
    }
    assert store_files.retrieve(policy, vector_store_id=store.id).status == "completed"
    assert store_files.poll(policy, vector_store_id=store.id).status == "completed"
    updated = store_files.update(policy, vector_store_id=store.id, attributes={"lang": "fr"})
    assert updated.attributes == {"lang": "fr"}
    assert [f.id for f in store_files.list(store.id)] == [shipping, policy]
    assert [f.id for f in store_files.list(store.id, order="asc", limit=1)] == [policy, shipping]
    assert list(store_files.list(store.id, filter="failed")) == []
    listing = raw(store_files.with_raw_response.list(store.id))
    assert_conforms("ListVectorStoreFilesResponse", listing)
    content = raw(store_files.with_raw_response.content(policy, vector_store_id=store.id))
    assert content == {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": POLICY.decode()}],
        "has_more": False,
        "next_page": None,
    }
    assert_conforms("VectorStoreFileContentResponse", content)
    deleted = raw(store_files.with_raw_response.delete(policy, vector_store_id=store.id))
    assert deleted == {"id": policy, "object": "vector_store.file.deleted", "deleted": True}
    assert_conforms("DeleteVectorStoreFileResponse", deleted)
    after = client.vector_stores.retrieve(store.id)
    assert (after.file_counts.total, after.usage_bytes) == (1, len(SHIPPING))
    assert policy in emu.files  # the file itself stays
    with pytest.raises(openai.NotFoundError) as caught:
        store_files.retrieve(policy, vector_store_id=store.id)
    assert message(caught.value) == (
        f"No file found with id '{policy}' in vector store '{store.id}'."
    )


def test_upload_and_poll_and_attaching_twice(client: openai.OpenAI) -> None:
    store = client.vector_stores.create()
    uploaded = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("faq.md", b"# FAQ\nOpen on Sundays.")
    )
    assert uploaded.status == "completed"
    plain = client.vector_stores.files.upload(vector_store_id=store.id, file=("b.txt", b"b"))
    assert plain.status == "in_progress"

    again = client.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)

    assert again == uploaded
    assert client.vector_stores.retrieve(store.id).file_counts.total == 2


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"", "invalid_file", "The file could not be parsed because it is empty."),
        (b"\xff\xfe\x00\xd8\x00", "unsupported_file", "The file type is not supported."),
    ],
)
def test_a_file_that_cannot_be_read_fails_and_the_store_completes(
    client: openai.OpenAI, emu: Emulator, data: bytes, code: str, message: str
) -> None:
    bad = upload(client, "bad.txt", data)
    store = client.vector_stores.create(file_ids=[bad])

    found = client.vector_stores.files.retrieve(bad, vector_store_id=store.id)
    assert found.status == "failed"
    assert found.last_error and (found.last_error.code, found.last_error.message) == (
        code,
        message,
    )
    done = client.vector_stores.retrieve(store.id)
    assert (done.status, done.file_counts.failed, done.usage_bytes) == ("completed", 1, 0)
    assert emu.check_invariants() == []


@pytest.mark.parametrize(
    "make",
    [
        lambda c, s, f: c.vector_stores.create(file_ids=[f]),
        lambda c, s, f: c.vector_stores.files.create(vector_store_id=s, file_id=f),
        lambda c, s, f: c.vector_stores.file_batches.create(vector_store_id=s, file_ids=[f]),
        lambda c, s, f: c.beta.assistants.create(
            model="gpt-4o", tool_resources={"file_search": {"vector_stores": [{"file_ids": [f]}]}}
        ),
        lambda c, s, f: c.beta.threads.create(
            messages=[
                {
                    "role": "user",
                    "content": "x",
                    "attachments": [{"file_id": f, "tools": [{"type": "file_search"}]}],
                }
            ]
        ),
    ],
    ids=["store", "attach", "batch", "assistant shortcut", "thread attachment"],
)
def test_unsupported_extensions_are_refused_before_anything_changes(
    client: openai.OpenAI, emu: Emulator, make: Any
) -> None:
    store = client.vector_stores.create()
    image = upload(client, "chart.png", b"\x89PNG")
    before = state(emu)

    with pytest.raises(openai.BadRequestError) as caught:
        make(client, store.id, image)

    assert caught.value.body == {
        "message": "Files with extensions [.png] are not supported for retrieval. See "
        "https://platform.openai.com/docs/assistants/tools/file-search/supported-files",
        "type": "invalid_request_error",
        "param": "file_ids",
        "code": "unsupported_file",
    }
    assert state(emu) == before


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"file_id": "file-nope"}, None),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0},
                }
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "chunking_strategy": {
                    "type": "static",
                    "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101},
                }
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ({"attributes": {"k" * 65: "v"}}, "attributes.kkkkk"),
    ],
    ids=["unknown file", "chunk too small", "overlap above half", "attribute key too long"],
)
def test_bad_attach_requests_change_nothing(
    client: openai.OpenAI, emu: Emulator, policy: str, kwargs: dict[str, Any], param: str | None
) -> None:
    store = client.vector_stores.create()
    before = state(emu)

    with pytest.raises((openai.BadRequestError, openai.NotFoundError)) as caught:
        client.vector_stores.files.create(
            **{"vector_store_id": store.id, "file_id": policy, **kwargs}
        )

    if param is None:
        assert message(caught.value) == "Files [file-nope] were not found"
    else:
        assert (caught.value.body or {}).get("param", "").startswith(param[:30])  # type: ignore[union-attr]
    assert state(emu) == before


# --- batches ---------------------------------------------------------------------------------


def test_batches_count_their_own_files(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create(file_ids=[policy])
    batches = client.vector_stores.file_batches

    created = raw(
        batches.with_raw_response.create(
            vector_store_id=store.id, file_ids=[shipping], attributes={"kind": "faq"}
        )
    )
    assert list(created) == [
        "id",
        "object",
        "created_at",
        "status",
        "vector_store_id",
        "file_counts",
    ]
    assert re.fullmatch(r"vsfb_[0-9a-f]{32}", created["id"])
    assert (created["object"], created["status"]) == ("vector_store.files_batch", "in_progress")
    assert_conforms("VectorStoreFileBatchObject", created)
    done = batches.retrieve(created["id"], vector_store_id=store.id)
    assert (done.status, done.file_counts.completed, done.file_counts.total) == ("completed", 1, 1)
    listed = list(batches.list_files(created["id"], vector_store_id=store.id))
    assert [(f.id, f.attributes) for f in listed] == [(shipping, {"kind": "faq"})]
    assert batches.cancel(created["id"], vector_store_id=store.id) == done  # finished: unchanged
    assert batches.poll(created["id"], vector_store_id=store.id).status == "completed"


def test_batch_entries_and_create_and_poll(
    client: openai.OpenAI, policy: str, shipping: str
) -> None:
    batches = client.vector_stores.file_batches
    if "files" not in inspect.signature(batches.create_and_poll).parameters:
        pytest.skip(f"openai {openai.__version__} sends no per-file batch entries")
    store = client.vector_stores.create()

    done = batches.create_and_poll(
        vector_store_id=store.id,
        files=[
            {"file_id": policy, "attributes": {"n": 1}},
            {"file_id": shipping, "chunking_strategy": {"type": "auto"}},
        ],
    )

    assert (done.status, done.file_counts.completed) == ("completed", 2)
    attributes = {
        f.id: f.attributes for f in client.vector_stores.files.list(vector_store_id=store.id)
    }
    assert attributes == {policy: {"n": 1}, shipping: {}}


@pytest.mark.parametrize(
    "body",
    [{}, {"file_ids": []}, {"file_ids": ["a"], "files": [{"file_id": "a"}]}, {"files": []}],
)
def test_a_batch_needs_exactly_one_of_file_ids_and_files(
    client: openai.OpenAI, emu: Emulator, body: dict[str, Any]
) -> None:
    store = client.vector_stores.create()
    before = state(emu)

    response = emu.handle(
        "POST",
        f"https://api.openai.com/v1/vector_stores/{store.id}/file_batches",
        {"authorization": "Bearer sk"},
        json.dumps(body).encode(),
    )

    assert response.status == 400
    assert state(emu) == before


def test_batch_ids_are_prefix_checked(client: openai.OpenAI) -> None:
    store = client.vector_stores.create()

    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.file_batches.retrieve("batch_1", vector_store_id=store.id)

    assert message(caught.value) == (
        "Invalid 'batch_id': 'batch_1'. Expected an ID that begins with 'vsfb_'."
    )


def test_upload_and_poll_uploads_in_parallel_sync_and_async(
    client: openai.OpenAI, async_client: openai.AsyncOpenAI, emu: Emulator
) -> None:
    store = client.vector_stores.create()
    files = [(f"{n}.txt", f"document number {n}".encode()) for n in range(6)]

    done = client.vector_stores.file_batches.upload_and_poll(store.id, files=files[:3])

    async def upload_async() -> Any:
        return await async_client.vector_stores.file_batches.upload_and_poll(
            store.id, files=files[3:]
        )

    done_async = asyncio.run(upload_async())
    assert (done.file_counts.completed, done_async.file_counts.completed) == (3, 3)
    assert client.vector_stores.retrieve(store.id).file_counts.completed == 6
    assert len(emu.files) == 6


# --- progress modes --------------------------------------------------------------------------


def test_step_progress_finishes_files_on_the_next_read(
    client: openai.OpenAI, emu: Emulator, policy: str
) -> None:
    emu.progress = "step"
    store = client.vector_stores.create(file_ids=[policy])
    assert emu.vector_stores[store.id]["status"] == "in_progress"

    assert client.vector_stores.files.retrieve(policy, vector_store_id=store.id).status == (
        "completed"
    )
    assert emu.vector_stores[store.id]["status"] == "completed"


def test_held_ingestion_keeps_files_in_progress_until_released(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    emu.hold_ingestion()
    store = client.vector_stores.create()
    batch = client.vector_stores.file_batches.create(store.id, file_ids=[policy, shipping])
    for _ in range(3):
        polled = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
        assert polled.file_counts.in_progress == 2

    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)

    assert (cancelled.status, cancelled.file_counts.cancelled) == ("cancelled", 2)
    emu.release_ingestion()
    store_file = client.vector_stores.files.create_and_poll(
        file_id=policy, vector_store_id=store.id
    )
    assert store_file.status == "cancelled"  # already in the store: answered unchanged
    assert client.vector_stores.retrieve(store.id).status == "completed"


def test_released_files_finish(client: openai.OpenAI, emu: Emulator, policy: str) -> None:
    emu.hold_ingestion()
    store = client.vector_stores.create(file_ids=[policy])
    assert client.vector_stores.retrieve(store.id).status == "in_progress"

    emu.release_ingestion()

    assert client.vector_stores.retrieve(store.id).status == "completed"


# --- expiry ----------------------------------------------------------------------------------


def test_a_store_expires_after_its_last_activity(
    client: openai.OpenAI, emu: Emulator, policy: str
) -> None:
    store = client.vector_stores.create(
        file_ids=[policy], expires_after={"anchor": "last_active_at", "days": 1}
    )
    emu.clock.advance(hours=20)
    client.vector_stores.search(store.id, query="refunds")  # activity
    bumped = client.vector_stores.retrieve(store.id)
    assert bumped.last_active_at == emu.clock.now()
    emu.clock.advance(hours=23, minutes=59)
    assert client.vector_stores.retrieve(store.id).status == "completed"

    emu.clock.advance(minutes=1)

    expired = client.vector_stores.retrieve(store.id)
    assert (expired.status, expired.expires_at) == ("expired", emu.clock.now())
    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.search(store.id, query="refunds")
    assert message(caught.value) == f"Vector store '{store.id}' has expired."
    assert emu.backend.library.expired_store(["vs_unknown", store.id]) == store.id


# --- search ----------------------------------------------------------------------------------


def test_search_ranks_chunks_best_first(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create(file_ids=[policy, shipping])

    answer = raw(
        client.vector_stores.with_raw_response.search(store.id, query="return policy refunds")
    )

    assert list(answer) == ["object", "search_query", "data", "has_more", "next_page"]
    assert answer["search_query"] == ["return policy refunds"]
    assert [r["filename"] for r in answer["data"]] == ["policy.txt"]
    assert 0 < answer["data"][0]["score"] <= 1
    assert answer["data"][0]["content"] == [{"type": "text", "text": POLICY.decode()}]
    assert_conforms("VectorStoreSearchResultsPage", answer)
    again = raw(
        client.vector_stores.with_raw_response.search(store.id, query="return policy refunds")
    )
    assert again == answer


def test_search_options_filters_and_rewrite(
    client: openai.OpenAI, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create()
    for file_id, lang in ((policy, "en"), (shipping, "fr")):
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file_id, attributes={"lang": lang}
        )
    search = client.vector_stores.search

    both = search(store.id, query=["refunds", "shipping"])
    assert sorted(r.filename for r in both) == ["policy.txt", "shipping.md"]
    assert len(search(store.id, query="delivery").data) == 2
    assert len(search(store.id, query="delivery", max_num_results=1).data) == 1
    french = search(
        store.id, query="delivery", filters={"type": "eq", "key": "lang", "value": "fr"}
    )
    assert [(r.filename, r.attributes) for r in french] == [("shipping.md", {"lang": "fr"})]
    high = search(store.id, query="delivery", ranking_options={"score_threshold": 1.0})
    assert list(high) == []
    rewritten = search(store.id, query="What is the return policy?", rewrite_query=True)
    assert rewritten.search_query == ["return policy"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "query"),
        ({"query": "x", "max_num_results": 51}, "max_num_results"),
        ({"query": "x", "ranking_options": {"ranker": "bm25"}}, "ranking_options.ranker"),
        ({"query": "x", "filters": {"type": "near", "key": "a", "value": 1}}, "filters.type"),
    ],
)
def test_bad_searches_are_400(emu: Emulator, client: openai.OpenAI, body: Any, param: str) -> None:
    store = client.vector_stores.create()
    before = state(emu)

    response = emu.handle(
        "POST",
        f"https://api.openai.com/v1/vector_stores/{store.id}/search",
        {"authorization": "Bearer sk"},
        json.dumps(body).encode(),
    )

    assert response.status == 400
    assert response.json()["error"]["param"] == param
    assert state(emu) == before


def test_a_users_ranker_replaces_bm25(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create(file_ids=[policy, shipping])
    seen: list[str] = []

    def by_length(query: str, chunks: Sequence[FileChunk]) -> list[float]:
        seen.append(query)
        return [len(chunk.text) / 1000 for chunk in chunks]

    emu.search_with(by_length)
    ranked = client.vector_stores.search(store.id, query="anything")
    assert [(r.filename, r.score) for r in ranked] == [
        ("policy.txt", len(POLICY) / 1000),
        ("shipping.md", len(SHIPPING) / 1000),
    ]
    assert seen == ["anything"]
    assert [
        r.file_id
        for r in emu.backend.library.search(
            [store.id], ["x"], max_num_results=1, score_threshold=0.0
        )
    ] == [policy]

    emu.search_with(None)
    assert list(client.vector_stores.search(store.id, query="anything")) == []


# --- what runs use (the engine's Knowledge) ------------------------------------------------


def test_knowledge_for_runs(client: openai.OpenAI, emu: Emulator, policy: str) -> None:
    library = emu.backend.library
    emu.hold_ingestion()
    store = client.vector_stores.create(
        file_ids=[policy], expires_after={"anchor": "last_active_at", "days": 1}
    )
    emu.settings.hold_ingestion = False

    assert library.search([store.id], ["refunds"], max_num_results=5, score_threshold=0) == []
    library.finish_ingestion([store.id, "vs_gone"])
    [found] = library.search(
        ["vs_gone", store.id], ["refunds"], max_num_results=5, score_threshold=0
    )
    assert (found.file_id, found.filename) == (policy, "policy.txt")
    emu.clock.advance(hours=5)
    library.touch([store.id, "vs_gone"])
    assert emu.vector_stores[store.id]["last_active_at"] == emu.clock.now()
    assert library.expired_store([store.id]) is None
    image = library.add_output_file("plot.png", b"\x89PNG")
    assert emu.files[image]["purpose"] == "assistants_output"
    assert client.files.content(image).read() == b"\x89PNG"  # downloadable by default
    assert (library.file_name(image), library.file_name("file-none")) == ("plot.png", None)


# --- assistants and threads ------------------------------------------------------------------


def test_the_vector_stores_shortcut_makes_real_stores(
    client: openai.OpenAI, emu: Emulator, policy: str
) -> None:
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [policy]}]}},
    )
    thread = client.beta.threads.create(
        tool_resources={
            "file_search": {"vector_stores": [{"file_ids": [policy], "metadata": {"k": "v"}}]}
        }
    )

    [mine] = assistant.tool_resources.file_search.vector_store_ids  # type: ignore[union-attr]
    [theirs] = thread.tool_resources.file_search.vector_store_ids  # type: ignore[union-attr]
    assert emu.vector_stores[mine]["expires_after"] is None
    assert emu.vector_stores[theirs]["expires_after"] == {"anchor": "last_active_at", "days": 7}
    assert emu.vector_stores[theirs]["metadata"] == {"k": "v"}
    assert [f.id for f in client.vector_stores.files.list(theirs)] == [policy]


def test_attachments_fill_the_threads_store_and_code_interpreter_files(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    thread = client.beta.threads.create()
    attachments: Any = [
        {"file_id": policy, "tools": [{"type": "file_search"}]},
        {"file_id": policy, "tools": [{"type": "code_interpreter"}]},
    ]

    message = client.beta.threads.messages.create(
        thread.id, role="user", content="Read these.", attachments=attachments
    )

    assert [a.model_dump(exclude_none=True) for a in message.attachments or []] == attachments
    resources = client.beta.threads.retrieve(thread.id).tool_resources
    assert resources and resources.file_search and resources.code_interpreter
    [store_id] = resources.file_search.vector_store_ids or []
    assert resources.code_interpreter.file_ids == [policy]
    store = emu.vector_stores[store_id]
    assert (store["expires_after"], store["file_counts"]["total"]) == (
        {"anchor": "last_active_at", "days": 7},
        1,
    )
    client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="And this.",
        attachments=[{"file_id": shipping, "tools": [{"type": "file_search"}]}],
    )
    assert [f.id for f in client.vector_stores.files.list(store_id, order="asc")] == [
        policy,
        shipping,
    ]
    assert list(emu.vector_stores) == [store_id]


def test_a_refused_run_takes_its_attachments_back(
    client: openai.OpenAI, emu: Emulator, policy: str
) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Help.")
    thread = client.beta.threads.create()
    emu.hold("queued")
    client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)  # the thread is busy
    before = state(emu)

    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(
            thread.id,
            assistant_id=assistant.id,
            additional_messages=[
                {
                    "role": "user",
                    "content": "x",
                    "attachments": [{"file_id": policy, "tools": [{"type": "file_search"}]}],
                }
            ],
        )

    assert state(emu) == before


@pytest.mark.parametrize(
    ("make", "status", "text"),
    [
        (
            lambda c: c.beta.assistants.create(
                model="m", tool_resources={"file_search": {"vector_store_ids": ["vs_nope"]}}
            ),
            404,
            "No vector store found with id 'vs_nope'.",
        ),
        (
            lambda c: c.beta.threads.create(
                tool_resources={"code_interpreter": {"file_ids": ["file-nope", "file-gone"]}}
            ),
            404,
            "Files [file-nope, file-gone] were not found",
        ),
        (
            lambda c: c.beta.threads.create(
                messages=[
                    {"role": "user", "content": "x", "attachments": [{"file_id": "file-nope"}]}
                ]
            ),
            404,
            "Files [file-nope] were not found",
        ),
        (
            lambda c: c.beta.threads.create(
                tool_resources={"file_search": {"vector_store_ids": ["vs_1", "vs_2"]}}
            ),
            400,
            "Invalid 'tool_resources.file_search.vector_store_ids': array too long. Expected an "
            "array with maximum length 1, but got an array with length 2 instead.",
        ),
    ],
    ids=["unknown store", "unknown files", "unknown attachment", "two stores"],
)
def test_bad_links_are_refused_and_change_nothing(
    client: openai.OpenAI, emu: Emulator, make: Any, status: int, text: str
) -> None:
    RealIds(client)("file-present")
    before = state(emu)

    with pytest.raises(openai.APIStatusError) as caught:
        make(client.with_options(max_retries=0))

    assert (caught.value.status_code, message(caught.value)) == (status, text)
    assert state(emu) == before


def test_code_interpreter_attachments_are_limited_to_20_files(
    client: openai.OpenAI, emu: Emulator
) -> None:
    real = RealIds(client)
    files = [real(f"file-{n}") for n in range(21)]
    thread = client.beta.threads.create()
    before = state(emu)

    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(
            thread.id,
            role="user",
            content="x",
            attachments=[{"file_id": f, "tools": [{"type": "code_interpreter"}]} for f in files],
        )

    assert caught.value.code == "array_above_max_length"
    assert state(emu) == before


# --- snapshots -------------------------------------------------------------------------------


def test_a_reloaded_emulator_answers_the_same_searches(
    client: openai.OpenAI, emu: Emulator, policy: str, shipping: str
) -> None:
    store = client.vector_stores.create(file_ids=[policy])
    batch = client.vector_stores.file_batches.create(store.id, file_ids=[shipping])
    query = "free delivery refunds"
    results = raw(client.vector_stores.with_raw_response.search(store.id, query=query))

    copy = Emulator.from_snapshot(emu.snapshot(), base_urls=["http://copy.test/v1"])

    with copy, openai.OpenAI(api_key="sk", base_url="http://copy.test/v1") as other:
        again = raw(other.vector_stores.with_raw_response.search(store.id, query=query))
        assert again == results
        assert other.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
        assert copy.file_data(policy) == POLICY
        assert copy.vector_stores == emu.vector_stores
        assert copy.check_invariants() == []


def test_the_readme_example_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Files and vector stores", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]

    exec(compile(code, "README.md", "exec"), {})
