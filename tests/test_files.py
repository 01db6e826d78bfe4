"""The Files API through the official SDK: upload (multipart, every interception path, sync and
async), list, retrieve, delete, download, and the real errors (files-vector-stores.md §2)."""

from __future__ import annotations

import asyncio
import io
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from conftest import RealIds
from files_support import assert_conforms, legacy_httpx_client, message, raw
from test_server import asgi_client

from emulator import Emulator

FILE_KEYS = [
    "object",
    "id",
    "purpose",
    "filename",
    "bytes",
    "created_at",
    "expires_at",
    "status",
    "status_details",
]


def test_upload_answers_the_recorded_file_object(client: openai.OpenAI, emu: Emulator) -> None:
    answer = client.files.with_raw_response.create(
        file=("notes.txt", io.BytesIO(b"hello world")), purpose="assistants"
    )

    body = raw(answer)
    assert list(body) == FILE_KEYS
    assert re.fullmatch(r"file-[A-Za-z0-9]{22}", body["id"])
    assert body | {"id": "x"} == {
        "object": "file",
        "id": "x",
        "purpose": "assistants",
        "filename": "notes.txt",
        "bytes": 11,
        "created_at": emu.clock.now(),
        "expires_at": None,
        "status": "processed",
        "status_details": None,
    }
    assert_conforms("OpenAIFile", body)
    assert emu.files[body["id"]] == body
    assert emu.file_data(body["id"]) == b"hello world"
    assert client.files.retrieve(body["id"]).model_dump() == body


def upload_everywhere(client: Any) -> tuple[str, bytes]:
    created = client.files.create(
        file=("你好.md", b"\x00binary\r\n--x\r\n"),
        purpose="vision",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert (created.filename, created.expires_at) == ("你好.md", created.created_at + 3600)
    return created.id, client.files.content(created.id).read()


@pytest.mark.parametrize("path", ["sdk default", "httpx via respx"])
def test_upload_and_download_on_every_sync_path(emu: Emulator, path: str) -> None:
    client = openai.OpenAI(api_key="sk-test") if path == "sdk default" else legacy_httpx_client()

    file_id, data = upload_everywhere(client)

    assert data == b"\x00binary\r\n--x\r\n" == emu.file_data(file_id)


def test_upload_and_download_with_the_async_client(async_client: openai.AsyncOpenAI) -> None:
    async def go() -> bytes:
        created = await async_client.files.create(file=("a.txt", b"async"), purpose="batch")
        return (await async_client.files.content(created.id)).read()

    assert asyncio.run(go()) == b"async"


def test_upload_and_download_through_the_asgi_app() -> None:
    emu = Emulator()
    client = asgi_client(emu)

    async def go() -> tuple[str, bytes]:
        created = await client.files.create(file=("x.jsonl", b'{"a": 1}\n'), purpose="fine-tune")
        return created.id, (await client.files.content(created.id)).read()

    file_id, data = asyncio.run(go())
    assert data == b'{"a": 1}\n' == emu.file_data(file_id)


def test_upload_and_download_over_http(emu: Emulator, http_client: openai.OpenAI) -> None:
    file_id, data = upload_everywhere(http_client)

    assert data == emu.file_data(file_id)
    response = http_client.files.with_raw_response.content(file_id)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"__.md\"; filename*=UTF-8''%E4%BD%A0%E5%A5%BD.md"
    )


@pytest.fixture
def http_client(assistants_emulator_server: Any) -> Any:
    with openai.OpenAI(api_key="sk-test", base_url=assistants_emulator_server.base_url) as sdk:
        yield sdk


def test_parallel_uploads_from_threads(client: openai.OpenAI, emu: Emulator) -> None:
    def upload(n: int) -> str:
        return client.files.create(file=(f"{n}.txt", b"x" * n), purpose="assistants").id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(upload, range(1, 41)))

    assert len(set(ids)) == 40
    assert sorted(f["bytes"] for f in emu.files.values()) == list(range(1, 41))


@pytest.mark.parametrize(
    "purpose", ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
)
def test_every_upload_purpose_is_taken(client: openai.OpenAI, purpose: str) -> None:
    created = client.files.with_raw_response.create(file=("a.txt", b"a"), purpose=purpose)  # type: ignore[arg-type]

    assert raw(created)["purpose"] == purpose


def test_an_unknown_purpose_is_the_recorded_400(client: openai.OpenAI, emu: Emulator) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("a.txt", b"a"), purpose="world_domination")  # type: ignore[arg-type]

    message = (
        "'world_domination' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', "
        "'vision', 'evals'] - 'purpose'"
    )
    assert caught.value.body == {
        "message": message,
        "type": "invalid_request_error",
        "param": "purpose",
        "code": None,
    }
    assert caught.value.response.json()["detail"] == {"message": message, "code": None}
    assert emu.files == {}


@pytest.mark.parametrize(
    ("expires_after", "param"),
    [
        ({"anchor": "created_at", "seconds": 3599}, "expires_after.seconds"),
        ({"anchor": "created_at", "seconds": 2_592_001}, "expires_after.seconds"),
        ({"anchor": "last_active_at", "seconds": 3600}, "expires_after.anchor"),
        ({"anchor": "created_at"}, "expires_after.seconds"),
    ],
)
def test_bad_expiry_is_a_400(
    client: openai.OpenAI, emu: Emulator, expires_after: Any, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("a.txt", b"a"), purpose="batch", expires_after=expires_after)

    assert caught.value.param == param
    assert emu.files == {}


def test_the_size_limit_is_a_400_and_stores_nothing(client: openai.OpenAI, emu: Emulator) -> None:
    emu.settings.max_file_bytes = 10

    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("big.txt", b"x" * 11), purpose="assistants")

    assert caught.value.param == "file"
    assert "11 bytes" in message(caught.value)
    assert emu.files == {}
    client.files.create(file=("ok.txt", b"x" * 10), purpose="assistants")


def test_upload_does_not_check_extensions(client: openai.OpenAI) -> None:
    for name in ("image.png", "text/csv", "noext"):
        assert client.files.create(file=(name, b"a"), purpose="assistants").filename == name


def test_a_missing_file_part_is_a_400(emu: Emulator) -> None:
    response = emu.handle(
        "POST",
        "https://api.openai.com/v1/files",
        {"authorization": "Bearer sk", "content-type": "multipart/form-data; boundary=b"},
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n--b--\r\n',
    )

    assert response.status == 400
    assert response.json()["error"]["param"] == "file"


def test_list_newest_first_with_purpose_limit_and_after(
    client: openai.OpenAI, emu: Emulator
) -> None:
    ids = []
    for n, purpose in enumerate(["assistants", "batch", "assistants", "vision"]):
        ids.append(client.files.create(file=(f"{n}.txt", b"x"), purpose=purpose).id)  # type: ignore[arg-type]
        emu.clock.advance(1)

    listed = raw(client.files.with_raw_response.list())
    assert list(listed) == ["object", "data", "has_more", "first_id", "last_id"]
    assert [f["id"] for f in listed["data"]] == ids[::-1]
    assert_conforms("ListFilesResponse", {**listed, "data": []})
    for item in listed["data"]:
        assert_conforms("OpenAIFile", item)
    assert [f.id for f in client.files.list(purpose="assistants")] == [ids[2], ids[0]]
    assert [f.id for f in client.files.list(order="asc", limit=2)] == ids  # pages with `after`
    page = client.files.list(limit=1, after=ids[3])
    assert ([f.id for f in page.data], page.has_more) == ([ids[2]], True)
    assert list(client.files.list(purpose="nothing")) == []


@pytest.mark.parametrize(("limit", "code"), [(0, "below_min"), (10_001, "above_max")])
def test_list_limit_is_1_to_10000(client: openai.OpenAI, limit: int, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.list(limit=limit)

    assert caught.value.code == f"integer_{code}_value"
    assert client.files.list(limit=10_000).data == []


@pytest.mark.parametrize("call", ["retrieve", "delete", "content"])
def test_unknown_files_are_the_recorded_404(client: openai.OpenAI, call: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        getattr(client.files, call)("fake_id")

    assert caught.value.body == {
        "message": "No such File object: fake_id",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }
    assert caught.value.response.json()["detail"]["message"] == "No such File object: fake_id"


@pytest.mark.parametrize("purpose", ["assistants", "user_data"])
def test_assistants_files_cannot_be_downloaded_unless_allowed(
    client: openai.OpenAI, emu: Emulator, purpose: str
) -> None:
    file_id = client.files.create(file=("a.txt", b"secret"), purpose=purpose).id  # type: ignore[arg-type]

    with pytest.raises(openai.BadRequestError) as caught:
        client.files.content(file_id)
    assert caught.value.response.json()["error"]["message"] == (
        f"Not allowed to download files of purpose: {purpose}"
    )

    emu.allow_file_downloads = True
    assert client.files.content(file_id).read() == b"secret"
    with pytest.warns(DeprecationWarning):
        assert client.files.retrieve_content(file_id) == "secret"


def test_delete_answers_the_recorded_shape_and_forgets_the_file(
    client: openai.OpenAI, emu: Emulator
) -> None:
    file_id = client.files.create(file=("a.txt", b"a"), purpose="assistants").id

    deleted = client.files.with_raw_response.delete(file_id)

    assert list(raw(deleted).items()) == [("object", "file"), ("deleted", True), ("id", file_id)]
    assert_conforms("DeleteFileResponse", raw(deleted))
    assert emu.files == {}
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)


def test_delete_leaves_every_store_and_code_interpreter_list(
    client: openai.OpenAI, emu: Emulator
) -> None:
    real = RealIds(client)
    doc, other = real("file-doc"), real("file-other")
    store = client.vector_stores.create(file_ids=[doc, other])
    assistant = client.beta.assistants.create(
        model="gpt-4o", tool_resources={"code_interpreter": {"file_ids": [doc, other]}}
    )
    thread = client.beta.threads.create(tool_resources={"code_interpreter": {"file_ids": [doc]}})
    before = client.vector_stores.retrieve(store.id)

    client.files.delete(doc)

    after = client.vector_stores.retrieve(store.id)
    assert (before.file_counts.total, after.file_counts.total) == (2, 1)
    assert after.usage_bytes == before.usage_bytes - len(f"The text of {'file-doc'}.")
    assert [f.id for f in client.vector_stores.files.list(store.id)] == [other]
    assistant_files = emu.assistants[assistant.id]["tool_resources"]["code_interpreter"]
    assert assistant_files == {"file_ids": [other]}
    assert emu.threads[thread.id]["tool_resources"] == {"code_interpreter": {"file_ids": []}}
    assert emu.check_invariants() == []


def test_a_file_expires_on_the_clock(client: openai.OpenAI, emu: Emulator) -> None:
    created = client.files.create(
        file=("a.txt", b"a"),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    emu.clock.advance(3599)
    assert client.files.retrieve(created.id).expires_at == created.created_at + 3600

    emu.clock.advance(1)

    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    assert list(client.files.list()) == []


def test_batch_files_expire_after_30_days_by_default(client: openai.OpenAI) -> None:
    created = client.files.create(file=("a.jsonl", b"{}"), purpose="batch")

    assert created.expires_at == created.created_at + 30 * 86_400


def test_wait_for_processing_returns_at_once(client: openai.OpenAI) -> None:
    created = client.files.create(file=("a.txt", b"a"), purpose="assistants")

    assert client.files.wait_for_processing(created.id, poll_interval=3600).status == "processed"
