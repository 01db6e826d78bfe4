"""``multipart/form-data`` request bodies (``POST /files``) into fields and files.

Parsing is python-multipart's (the parser Starlette uses); this module only collects the parts.
Both SDK lines send ``purpose``, ``expires_after[anchor]``, ``expires_after[seconds]`` and
``file`` (files-vector-stores.md §1); parts are taken in any order, a repeated name keeps its
last value (as Starlette's form does), and a part's own ``Content-Type`` is kept but never
trusted. Filenames are kept exactly as sent and read as UTF-8, which is how httpx writes
non-ASCII names (HTML5 form encoding: ``"`` arrives as ``%22`` and stays so).

The real texts for broken bodies are unknown; the 400s name what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import InvalidRequestError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["Form", "UploadedFile", "parse_form"]


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part: its name as sent, its declared content type, its bytes."""

    filename: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed form: text fields and file parts by part name."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


def _malformed(detail: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid multipart/form-data body: {detail}.")


def parse_form(content_type: str | None, body: bytes) -> Form:
    """Parse a request body sent with ``content_type``; a malformed body is a 400.

    A part with a ``filename`` parameter is a file (even with an empty name), any other part a
    UTF-8 text field.
    """
    media, options = parse_options_header(content_type or "")
    if media != b"multipart/form-data":
        shown = (content_type or "").split(";")[0].strip() or "none"
        raise InvalidRequestError(
            f"Invalid Content-Type header ({shown}): expected multipart/form-data."
        )
    boundary = options.get(b"boundary")
    if not boundary:
        raise _malformed("missing boundary in the Content-Type header")
    collector = _Collector()
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError as error:
        raise _malformed(str(error).rstrip(".") or "unreadable part") from None
    if collector.error is not None:
        raise _malformed(collector.error)
    if not collector.ended:
        raise _malformed("the body ends before the closing boundary")
    return Form(collector.fields, collector.files)


class _Collector:
    """Callbacks for MultipartParser that assemble parts in memory."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.files: dict[str, UploadedFile] = {}
        self.ended = False
        self.error: str | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = bytearray()
        self._value = bytearray()
        self._data: list[bytes] = []

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._data = []

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower().strip()] = bytes(self._value).strip()
        self._field.clear()
        self._value.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._data.append(data[start:end])

    def _part_end(self) -> None:
        if self.error is not None:
            return
        disposition, options = parse_options_header(
            self._headers.get(b"content-disposition", b"").decode("latin-1")
        )
        if disposition != b"form-data":
            self.error = "a part has no 'Content-Disposition: form-data' header"
            return
        if b"name" not in options:
            self.error = "a part's Content-Disposition header has no name"
            return
        try:
            name = options[b"name"].decode("utf-8")
            filename = options[b"filename"].decode("utf-8") if b"filename" in options else None
        except UnicodeDecodeError:
            self.error = "a part's name or filename is not UTF-8"
            return
        data = b"".join(self._data)
        if filename is None:
            try:
                self.fields[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                self.error = f"the field '{name}' is not UTF-8 text"
            return
        declared = self._headers.get(b"content-type")
        self.files[name] = UploadedFile(
            filename, declared.decode("latin-1") if declared else None, data
        )

    def _end(self) -> None:
        self.ended = True
