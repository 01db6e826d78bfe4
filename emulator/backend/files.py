"""Files: upload, retrieve, list, delete, download (files-vector-stores.md §2)."""

from __future__ import annotations

import re

from ..retrieval.library import check_upload_purpose
from ..state.store import Order
from ..wire import files as wire
from ..wire.errors import InvalidRequestError
from ..wire.multipart import Form
from ..wire.objects import Obj
from .base import Resource

FILE_LIST_MAX = 10_000  # the files list's own limit and default (§2.1)
EXPIRY_SECONDS = (3600, 2_592_000)
_FIELDS = ("purpose", "expires_after[anchor]", "expires_after[seconds]")


class Files(Resource):
    def create(self, form: Form) -> Obj:
        """An upload from a parsed multipart form; extensions are not checked here (§2.2)."""
        for name in [*form.fields, *form.files]:
            if name not in (*_FIELDS, "file"):
                raise wire.FilesAPIError(
                    f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        upload = form.files.get("file")
        if upload is None:
            raise wire.FilesAPIError(
                "Missing required parameter: 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        purpose = check_upload_purpose(form.fields.get("purpose"))
        expires_after = _expires_after(form.fields)
        file = self.library.upload(
            upload.filename, upload.data, purpose, expires_after=expires_after
        )
        self.claim(file["id"])
        return file

    def get(self, file_id: str) -> Obj:
        return self.file(file_id)

    def content(self, file_id: str) -> tuple[str, bytes]:
        self.file(file_id)
        return self.library.content(file_id)

    def delete(self, file_id: str) -> Obj:
        self.file(file_id)
        self.store.owner.pop(file_id, None)
        return self.library.delete_file(file_id)

    def list(self, *, purpose: str | None, limit: int, order: Order, after: str | None) -> Obj:
        def where(file: Obj) -> bool:
            return (purpose is None or file["purpose"] == purpose) and self.visible(file["id"])

        found = self.library.file_page(limit=limit, order=order, after=after, where=where)
        return wire.file_list(found.data, found.has_more)


def _expires_after(fields: dict[str, str]) -> int | None:
    """`expires_after[anchor]` and `[seconds]`, both required when either is sent."""
    anchor = fields.get("expires_after[anchor]")
    seconds = fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return None
    for name, given in (("anchor", anchor), ("seconds", seconds)):
        if given is None:
            raise wire.FilesAPIError(
                f"Missing required parameter: 'expires_after.{name}'.",
                param=f"expires_after.{name}",
                code="missing_required_parameter",
            )
    if anchor != "created_at":
        raise wire.FilesAPIError(
            f"Invalid value: '{anchor}'. Supported values are: 'created_at'.",
            param="expires_after.anchor",
            code="invalid_value",
        )
    assert seconds is not None
    if not re.fullmatch(r"-?\d{1,18}", seconds):
        raise wire.FilesAPIError(
            f"Invalid type for 'expires_after.seconds': expected an integer, but got "
            f"'{seconds}' instead.",
            param="expires_after.seconds",
            code="invalid_type",
        )
    value = int(seconds)
    low, high = EXPIRY_SECONDS
    if not low <= value <= high:
        above = value > high
        bound = f"<= {high}" if above else f">= {low}"
        raise wire.FilesAPIError(
            f"Invalid 'expires_after.seconds': integer {'above' if above else 'below'} "
            f"{'maximum' if above else 'minimum'} value. Expected a value {bound}, but got "
            f"{value} instead.",
            param="expires_after.seconds",
            code="integer_above_max_value" if above else "integer_below_min_value",
        )
    return value


def parse_file_list_limit(raw: str | None) -> int:
    """`limit` of `GET /files`: 1..10,000, default 10,000."""
    if raw is None:
        return FILE_LIST_MAX
    if not re.fullmatch(r"-?\d{1,18}", raw):
        raise InvalidRequestError(
            f"Invalid type for 'limit': expected an integer, but got '{raw}' instead.",
            param="limit",
            code="invalid_type",
        )
    limit = int(raw)
    if not 1 <= limit <= FILE_LIST_MAX:
        above = limit > FILE_LIST_MAX
        raise InvalidRequestError(
            f"Invalid 'limit': integer {'above maximum' if above else 'below minimum'} value. "
            f"Expected a value {f'<= {FILE_LIST_MAX}' if above else '>= 1'}, but got {limit} "
            "instead.",
            param="limit",
            code="integer_above_max_value" if above else "integer_below_min_value",
        )
    return limit
