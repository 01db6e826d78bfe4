"""multipart/form-data parsing for `POST /files`: what the SDK and httpx send, and broken bodies."""

from __future__ import annotations

import importlib
import io

import openai
import pytest

from emulator.wire.errors import InvalidRequestError
from emulator.wire.multipart import Form, UploadedFile, parse_form

SDK_HTTP = importlib.import_module(
    "httpx2" if int(openai.__version__.split(".")[0]) >= 3 else "httpx"
)
ENCODERS = [
    pytest.param(importlib.import_module(name), id=name)
    for name in ("httpx", "httpx2")
    if importlib.util.find_spec(name)
]


def sdk_upload(**kwargs: object) -> tuple[str, bytes]:
    """The content type and body the installed SDK sends for `files.create(**kwargs)`."""
    seen: list[tuple[str, bytes]] = []

    def handler(request: object) -> object:
        seen.append((request.headers["content-type"], request.read()))  # type: ignore[attr-defined]
        return SDK_HTTP.Response(
            200,
            json={
                "object": "file",
                "id": "file-abc",
                "purpose": "assistants",
                "filename": "x",
                "bytes": 1,
                "created_at": 1,
                "status": "processed",
            },
        )

    http_client = SDK_HTTP.Client(transport=SDK_HTTP.MockTransport(handler))
    with openai.OpenAI(api_key="sk-test", http_client=http_client, max_retries=0) as client:
        client.files.create(**kwargs)  # type: ignore[arg-type]
    return seen[0]


def test_sdk_upload_with_expiry_and_non_ascii_name() -> None:
    content_type, body = sdk_upload(
        file=("你好.txt", io.BytesIO(b"hello\r\n--not a boundary\r\n")),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )

    form = parse_form(content_type, body)

    assert form.fields == {
        "purpose": "assistants",
        "expires_after[anchor]": "created_at",
        "expires_after[seconds]": "3600",
    }
    assert form.files == {
        "file": UploadedFile("你好.txt", "text/plain", b"hello\r\n--not a boundary\r\n")
    }


@pytest.mark.parametrize("http", ENCODERS)
def test_parts_in_any_order_with_binary_and_empty_files(http: object) -> None:
    payload = bytes(range(256)) * 40
    request = http.Request(  # type: ignore[attr-defined]
        "POST",
        "https://api.openai.com/v1/files",
        files=[
            ("file", ("image.png", payload, "image/png")),
            ("empty", ("empty.txt", b"", "text/plain")),
        ],
        data={"purpose": "vision"},
    )

    form = parse_form(request.headers["content-type"], request.read())

    assert form.fields == {"purpose": "vision"}
    assert form.files["file"] == UploadedFile("image.png", "image/png", payload)
    assert form.files["empty"] == UploadedFile("empty.txt", "text/plain", b"")


def hand_made(*parts: bytes, boundary: bytes = b"XyZ") -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n"


def test_hand_made_body_quoted_boundary_and_repeated_field() -> None:
    body = hand_made(
        b'Content-Disposition: form-data; name="purpose"\r\n\r\nbatch',
        b'Content-Disposition: form-data; name="purpose"\r\n\r\nassistants',
        b'content-disposition: form-data; name="file"; filename="notes.md"\r\n\r\n# Notes',
    )

    form = parse_form('multipart/form-data; boundary="XyZ"', body)

    assert form == Form(
        fields={"purpose": "assistants"},  # the last value wins, as in Starlette
        files={"file": UploadedFile("notes.md", None, b"# Notes")},
    )


def test_empty_form_is_valid() -> None:
    assert parse_form("multipart/form-data; boundary=XyZ", b"--XyZ--\r\n") == Form()


BAD_BODIES = [
    pytest.param(
        "application/json",
        b"{}",
        "Invalid Content-Type header (application/json): expected multipart/form-data.",
        id="json",
    ),
    pytest.param(
        None, b"", "Invalid Content-Type header (none): expected multipart/form-data.", id="none"
    ),
    pytest.param(
        "multipart/form-data",
        hand_made(b'Content-Disposition: form-data; name="purpose"\r\n\r\nx'),
        "Invalid multipart/form-data body: missing boundary in the Content-Type header.",
        id="no-boundary",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ",
        hand_made(b'Content-Disposition: form-data; name="purpose"\r\n\r\nx')[:-9],
        "Invalid multipart/form-data body: the body ends before the closing boundary.",
        id="truncated",
    ),
    pytest.param(
        "multipart/form-data; boundary=other",
        hand_made(b'Content-Disposition: form-data; name="purpose"\r\n\r\nx'),
        None,
        id="wrong-boundary",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ",
        hand_made(b'Content-Disposition: form-data; filename="a.txt"\r\n\r\nx'),
        "Invalid multipart/form-data body: a part's Content-Disposition header has no name.",
        id="no-name",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ",
        hand_made(b"Content-Type: text/plain\r\n\r\nx"),
        "Invalid multipart/form-data body: a part has no 'Content-Disposition: form-data' header.",
        id="no-disposition",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ",
        hand_made(b'Content-Disposition: form-data; name="purpose"\r\n\r\n\xff\xfe'),
        "Invalid multipart/form-data body: the field 'purpose' is not UTF-8 text.",
        id="field-not-utf8",
    ),
    pytest.param(
        "multipart/form-data; boundary=XyZ",
        b"garbage without any boundary",
        None,
        id="garbage",
    ),
]


@pytest.mark.parametrize(("content_type", "body", "message"), BAD_BODIES)
def test_malformed_bodies_are_400(content_type: str | None, body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_form(content_type, body)

    assert caught.value.status == 400
    assert caught.value.body()["error"]["type"] == "invalid_request_error"
    if message is not None:
        assert caught.value.message == message
    else:
        assert caught.value.message.startswith("Invalid multipart/form-data body: ")
