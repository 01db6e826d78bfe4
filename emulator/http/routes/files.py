"""`/files` routes: multipart upload, list, retrieve, delete, and the raw content."""

from __future__ import annotations

from ...backend.files import parse_file_list_limit
from ...wire.errors import InvalidRequestError
from ...wire.multipart import parse_form
from ...wire.objects import Obj
from .base import Binary, Call, Route


def create_file(call: Call) -> Obj:
    form = parse_form(call.request.headers.get("content-type"), call.request.body)
    return call.backend.files.create(form)


def list_files(call: Call) -> Obj:
    order = call.query_value("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidRequestError(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    return call.backend.files.list(
        purpose=call.query_value("purpose") or None,
        limit=parse_file_list_limit(call.query_value("limit")),
        order="asc" if order == "asc" else "desc",
        after=call.query_value("after") or None,
    )


def get_file(call: Call) -> Obj:
    return call.backend.files.get(call.params["file_id"])


def delete_file(call: Call) -> Obj:
    return call.backend.files.delete(call.params["file_id"])


def file_content(call: Call) -> Binary:
    filename, data = call.backend.files.content(call.params["file_id"])
    return Binary(data, filename)


_F = r"(?P<file_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", r"/files", create_file),
    ("GET", r"/files", list_files),
    ("GET", rf"/files/{_F}/content", file_content),
    ("GET", rf"/files/{_F}", get_file),
    ("DELETE", rf"/files/{_F}", delete_file),
]
