"""Which files file_search takes, and their text.

The extension rule and its 400 are the real service's (files-vector-stores.md §8). Text formats
must be UTF-8, UTF-16 (with a byte order mark) or ASCII, as the File Search guide says; HTML is
reduced to its text with the stdlib parser; ``.docx``/``.pptx`` are read from their XML with the
stdlib; PDF needs the optional ``pypdf`` (``pip install 'assistants-emulator[pdf]'``).

Content that cannot be read as its type ends the vector store file ``failed`` with the
``last_error`` the service gave (§4.2): ``unsupported_file`` / ``The file type is not
supported.`` (the service failed some ``.md``/``.txt`` files this way for their content). An
empty file is ``invalid_file`` with the wording of the real "too large" message
(``The file could not be parsed because it is empty.``, an emulator choice: no real text is known).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Literal
from xml.etree import ElementTree

from ..wire.errors import InvalidRequestError

__all__ = [
    "EMPTY_FILE_MESSAGE",
    "FILE_TOO_LARGE_MESSAGE",
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_FILES_URL",
    "UNSUPPORTED_FILE_MESSAGE",
    "ExtractionError",
    "LastErrorCode",
    "check_supported",
    "extension",
    "extract_pages",
    "extract_text",
    "unsupported_extensions",
]

SUPPORTED_FILES_URL = (
    "https://platform.openai.com/docs/assistants/tools/file-search/supported-files"
)

SUPPORTED_EXTENSIONS: Mapping[str, tuple[str, ...]] = {
    ".c": ("text/x-c",),
    ".cpp": ("text/x-c++",),
    ".cs": ("text/x-csharp",),
    ".css": ("text/css",),
    ".doc": ("application/msword",),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ".go": ("text/x-golang",),
    ".html": ("text/html",),
    ".java": ("text/x-java",),
    ".js": ("text/javascript",),
    ".json": ("application/json",),
    ".md": ("text/markdown",),
    ".pdf": ("application/pdf",),
    ".php": ("text/x-php",),
    ".pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
    ".py": ("text/x-python", "text/x-script.python"),
    ".rb": ("text/x-ruby",),
    ".sh": ("application/x-sh",),
    ".tex": ("text/x-tex",),
    ".ts": ("application/typescript",),
    ".txt": ("text/plain",),
}
"""The extensions file_search accepts, with their MIME types (the File Search guide's table)."""

LastErrorCode = Literal["server_error", "unsupported_file", "invalid_file"]

UNSUPPORTED_FILE_MESSAGE = "The file type is not supported."
FILE_TOO_LARGE_MESSAGE = "The file could not be parsed because it is too large."
EMPTY_FILE_MESSAGE = "The file could not be parsed because it is empty."
_PDF_EXTRA_MESSAGE = (
    "Reading PDF files needs the optional dependency pypdf: pip install 'assistants-emulator[pdf]'."
)


class ExtractionError(Exception):
    """A file that cannot be ingested; carries the vector store file's ``last_error``."""

    def __init__(self, code: LastErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: LastErrorCode = code
        self.message = message

    def last_error(self) -> dict[str, str]:
        """``{"code", "message"}`` for the failed vector store file."""
        return {"code": self.code, "message": self.message}


def extension(filename: str) -> str:
    """The lower-cased extension with its dot (``"Notes.MD"`` -> ``".md"``), ``""`` when none."""
    ext = os.path.splitext(filename)[1].lower()
    return "" if ext == "." else ext


def unsupported_extensions(filenames: Iterable[str]) -> list[str]:
    """The distinct extensions file_search refuses, in order of first appearance.

    A name without an extension is refused too but adds nothing to the list.
    """
    found: list[str] = []
    for name in filenames:
        ext = extension(name)
        if ext not in SUPPORTED_EXTENSIONS and ext not in found and ext:
            found.append(ext)
    return found


def check_supported(*filenames: str) -> None:
    """Raise the real 400 when any of ``filenames`` has an extension file_search refuses.

    Called before anything is created: on store creation, file attach, batch creation,
    file_search attachments and the ``vector_stores`` shortcut. With several bad files the
    message lists each distinct extension once (emulator choice; the real form is unknown), and
    a name without an extension gives an empty list, ``Files with extensions [] ...``.
    """
    refused = [name for name in filenames if extension(name) not in SUPPORTED_EXTENSIONS]
    if not refused:
        return
    listed = ", ".join(unsupported_extensions(refused))
    raise InvalidRequestError(
        f"Files with extensions [{listed}] are not supported for retrieval. "
        f"See {SUPPORTED_FILES_URL}",
        param="file_ids",
        code="unsupported_file",
    )


def extract_text(filename: str, data: bytes) -> str:
    """The file's text, its pages joined by blank lines; see ``extract_pages``."""
    return "\n\n".join(extract_pages(filename, data))


def extract_pages(filename: str, data: bytes) -> list[str]:
    """The file's text, one string per source page (one for anything but PDF and PPTX slides).

    Raises ExtractionError with the ``last_error`` to report when the content cannot be read or
    holds no text. The extension picks the reader; anything not PDF, Office or HTML is read as
    text, so the function also serves code_interpreter types such as ``.csv``.
    """
    ext = extension(filename)
    if ext == ".pdf":
        pages = _pdf_pages(data)
    elif ext == ".docx":
        pages = [_docx_text(data)]
    elif ext == ".pptx":
        pages = _pptx_slides(data)
    elif ext == ".doc" and data.startswith(b"\xd0\xcf\x11\xe0"):
        # The binary Word format has no pure-Python reader worth bundling; text or HTML
        # saved as .doc still works below.
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE)
    elif ext in (".html", ".htm"):
        pages = [_html_text(_decode(data))]
    else:
        pages = [_decode(data)]
    if not any(page.strip() for page in pages):
        raise ExtractionError("invalid_file", EMPTY_FILE_MESSAGE)
    return pages


def _decode(data: bytes) -> str:
    """UTF-8 (BOM optional) or UTF-16 with a BOM; anything else is not a text file."""
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = data.decode("utf-16")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None
    if "\x00" in text:  # valid UTF-8 but binary all the same
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE)
    return text


class _HTMLText(HTMLParser):
    """Collects the text of an HTML page: no tags, no scripts or styles, blocks on new lines."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "noscript"})
    # fmt: off
    _BLOCK = frozenset({
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    })
    # fmt: on

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_SPACE_RUNS = re.compile(r"[ \t\r\f\v]+")


def _html_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = _SPACE_RUNS.sub(" ", "".join(parser.parts))
    lines = (line.strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _pdf_pages(data: bytes) -> list[str]:
    try:
        import pypdf
    except ImportError:
        # A missing extra is the installer's problem, not the file's: the file fails with a
        # message that says what to install, instead of a 500 mid-request.
        raise ExtractionError("server_error", _PDF_EXTRA_MESSAGE) from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception:  # pypdf raises many types for damaged or encrypted files
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None
    # PDF text can carry lone surrogates; keep the text valid for the tokenizer.
    return [page.encode("utf-8", "replace").decode("utf-8") for page in pages]


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_SLIDE = re.compile(r"ppt/slides/slide(\d+)\.xml")


def _xml_paragraphs(xml: bytes, paragraph: str, text: str) -> list[str]:
    root = ElementTree.fromstring(xml)
    return ["".join(node.text or "" for node in p.iter(text)) for p in root.iter(paragraph)]


def _office_part(data: bytes, names: Iterable[str]) -> list[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in names]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None


def _docx_text(data: bytes) -> str:
    (xml,) = _office_part(data, ["word/document.xml"])
    try:
        return "\n".join(_xml_paragraphs(xml, f"{_W}p", f"{_W}t"))
    except ElementTree.ParseError:
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None


def _pptx_slides(data: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [name for name in archive.namelist() if _SLIDE.fullmatch(name)]
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None
    names.sort(key=lambda name: int(_SLIDE.fullmatch(name).group(1)))  # type: ignore[union-attr]
    try:
        return [
            "\n".join(_xml_paragraphs(xml, f"{_A}p", f"{_A}t")) for xml in _office_part(data, names)
        ]
    except ElementTree.ParseError:
        raise ExtractionError("unsupported_file", UNSUPPORTED_FILE_MESSAGE) from None
