"""Retrieval core: supported files, text extraction, chunking, filters, attributes and search."""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Sequence
from typing import Any

import pytest

from emulator.engine.tokens import load_encoding
from emulator.retrieval import (
    AUTO_CHUNKING,
    SUPPORTED_EXTENSIONS,
    Chunk,
    ChunkingStrategy,
    ComparisonFilter,
    CompoundFilter,
    ExtractionError,
    FileChunk,
    SearchIndex,
    SearchRequest,
    check_supported,
    chunk,
    extract_pages,
    extract_text,
    file_search_result,
    ingest,
    parse_chunking_strategy,
    parse_filter,
    parse_search_request,
    rewrite_query,
    search,
    search_results_page,
    validate_attributes,
)
from emulator.wire.errors import InvalidRequestError

ENCODING = load_encoding("cl100k_base")
SEE = "See https://platform.openai.com/docs/assistants/tools/file-search/supported-files"


def raises_400(action: Any, message: str, *, param: str | None, code: str | None) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        action()
    assert caught.value.status == 400
    assert caught.value.body() == {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": code,
        }
    }


# --- supported extensions ---------------------------------------------------------------------


def test_the_guide_lists_21_extensions() -> None:
    assert len(SUPPORTED_EXTENSIONS) == 21


@pytest.mark.parametrize("ext", sorted(SUPPORTED_EXTENSIONS))
def test_supported_extensions_pass_in_any_case(ext: str) -> None:
    check_supported(f"report{ext}", f"REPORT{ext.upper()}", f"dir.v2/archive.tar{ext}")


@pytest.mark.parametrize("ext", [".png", ".csv", ".h", ".xlsx", ".htm", ".jsonl", ".gz"])
def test_unsupported_extension_is_the_real_400(ext: str) -> None:
    raises_400(
        lambda: check_supported("notes.txt", f"data{ext}"),
        f"Files with extensions [{ext}] are not supported for retrieval. {SEE}",
        param="file_ids",
        code="unsupported_file",
    )


def test_several_bad_files_list_distinct_extensions_in_order() -> None:
    raises_400(
        lambda: check_supported("a.csv", "b.txt", "c.PNG", "d.csv", "Makefile"),
        f"Files with extensions [.csv, .png] are not supported for retrieval. {SEE}",
        param="file_ids",
        code="unsupported_file",
    )


@pytest.mark.parametrize("name", ["Makefile", "text/csv", ".bashrc", "trailing."])
def test_a_name_without_extension_is_refused_with_an_empty_list(name: str) -> None:
    raises_400(
        lambda: check_supported(name),
        f"Files with extensions [] are not supported for retrieval. {SEE}",
        param="file_ids",
        code="unsupported_file",
    )


# --- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("a.txt", "Grüße, 你好\r\nline 2".encode(), "Grüße, 你好\r\nline 2"),
        ("a.md", b"\xef\xbb\xbf# Title", "# Title"),
        ("a.json", '{"k": "ü"}'.encode("utf-16"), '{"k": "ü"}'),
        ("a.py", b"\xfe\xff" + "print('x')\n".encode("utf-16-be"), "print('x')\n"),
        ("a.csv", b"name,age\nAda,36\n", "name,age\nAda,36\n"),
    ],
)
def test_text_formats_decode(name: str, data: bytes, text: str) -> None:
    assert extract_text(name, data) == text


def test_html_becomes_its_text() -> None:
    html = b"""<!doctype html><html><head><title>T</title><style>p {color: red}</style></head>
    <body><h1>Return&nbsp;policy</h1><p>Items can be <b>returned</b> within 30&#160;days.</p>
    <script>var x = "<p>hidden</p>";</script><ul><li>One</li><li>Two &amp; three</li></ul>
    </body></html>"""

    assert extract_text("page.html", html) == (
        "Return\xa0policy\nItems can be returned within 30\xa0days.\nOne\nTwo & three"
    )


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        ("a.txt", b"", "invalid_file", "The file could not be parsed because it is empty."),
        ("a.md", b" \n\t\r\n", "invalid_file", "The file could not be parsed because it is empty."),
        (
            "a.html",
            b"<p> </p><script>x</script>",
            "invalid_file",
            "The file could not be parsed because it is empty.",
        ),
        ("a.txt", b"caf\xe9", "unsupported_file", "The file type is not supported."),
        (
            "a.txt",
            b"PK\x03\x04\x00\x00binary",
            "unsupported_file",
            "The file type is not supported.",
        ),
        (
            "a.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest",
            "unsupported_file",
            "The file type is not supported.",
        ),
        ("a.docx", b"not a zip", "unsupported_file", "The file type is not supported."),
        ("a.pptx", b"not a zip", "unsupported_file", "The file type is not supported."),
        ("a.pdf", b"%PDF-1.4 broken", "unsupported_file", "The file type is not supported."),
    ],
)
def test_unreadable_content_fails_with_last_error(
    name: str, data: bytes, code: str, message: str
) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_pages(name, data)

    assert caught.value.last_error() == {"code": code, "message": message}


def test_doc_saved_as_text_is_read() -> None:
    assert extract_text("legacy.doc", b"plain words") == "plain words"


def office_file(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, xml in parts.items():
            archive.writestr(name, xml)
    return buffer.getvalue()


def test_docx_paragraphs() -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = (
        f"<w:document {w}><w:body><w:p><w:r><w:t>Hello "
        "</w:t></w:r><w:r><w:t>world</w:t></w:r>"
        "</w:p><w:p><w:r><w:t>Second "
        "paragraph</w:t></w:r></w:p></w:body></w:document>"
    )

    text = extract_text("memo.docx", office_file({"word/document.xml": document}))

    assert text == "Hello world\nSecond paragraph"


def test_pptx_slides_are_pages_in_slide_order() -> None:
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'

    def slide(*lines: str) -> str:
        body = "".join(f"<a:p><a:r><a:t>{line}</a:t></a:r></a:p>" for line in lines)
        return f"<p:sld {a} xmlns:p='urn:p'><p:txBody>{body}</p:txBody></p:sld>"

    data = office_file(
        {
            "ppt/slides/slide10.xml": slide("Ten"),
            "ppt/slides/slide2.xml": slide("Two", "Bullet"),
            "ppt/slides/_rels/slide2.xml.rels": "<x/>",
        }
    )

    assert extract_pages("deck.pptx", data) == ["Two\nBullet", "Ten"]


def make_pdf(pages: Sequence[str]) -> bytes:
    """A small PDF with one line of Helvetica text per page, written by pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(612, 792)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
        page.replace_contents(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_text_by_page() -> None:
    data = make_pdf(["Refunds take 14 days.", "Shipping is free."])

    assert extract_pages("policy.pdf", data) == ["Refunds take 14 days.", "Shipping is free."]
    assert extract_text("policy.pdf", data) == "Refunds take 14 days.\n\nShipping is free."


def test_pdf_without_text_is_empty() -> None:
    with pytest.raises(ExtractionError, match="because it is empty"):
        extract_pages("scan.pdf", make_pdf([""]))


def test_pdf_without_pypdf_fails_the_file_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pypdf", None)  # import pypdf -> ImportError

    with pytest.raises(ExtractionError) as caught:
        extract_pages("policy.pdf", b"%PDF-1.4")

    assert caught.value.code == "server_error"
    assert "pip install 'assistants-emulator[pdf]'" in caught.value.message


# --- chunking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, {"type": "auto"}])
def test_auto_is_800_with_400_overlap(value: Any) -> None:
    strategy = parse_chunking_strategy(value)

    assert strategy == AUTO_CHUNKING == ChunkingStrategy(800, 400)
    assert strategy.to_wire() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
    }


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (100, 50), (4096, 2048), (1200, 250)])
def test_static_limits_accepted(size: int, overlap: int) -> None:
    value = {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }

    assert parse_chunking_strategy(value) == ChunkingStrategy(size, overlap)


P = "chunking_strategy"
S = "chunking_strategy.static"


def static(size: Any = 800, overlap: Any = 400) -> dict[str, Any]:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


BAD_STRATEGIES = [
    (
        static(99),
        f"Invalid '{S}.max_chunk_size_tokens': integer below minimum "
        "value. Expected a value >= 100, but got 99 instead.",
        f"{S}.max_chunk_size_tokens",
        "integer_below_min_value",
    ),
    (
        static(4097, 0),
        f"Invalid '{S}.max_chunk_size_tokens': integer above maximum "
        "value. Expected a value <= 4096, but got 4097 instead.",
        f"{S}.max_chunk_size_tokens",
        "integer_above_max_value",
    ),
    (
        static(801, 401),
        f"Invalid '{S}.chunk_overlap_tokens': integer above maximum "
        "value. Expected a value <= 400 (half of "
        "max_chunk_size_tokens), but got 401 instead.",
        f"{S}.chunk_overlap_tokens",
        "integer_above_max_value",
    ),
    (
        static(800, -1),
        f"Invalid '{S}.chunk_overlap_tokens': integer below minimum "
        "value. Expected a value >= 0, but got -1 instead.",
        f"{S}.chunk_overlap_tokens",
        "integer_below_min_value",
    ),
    (
        static(800.0),
        f"Invalid type for '{S}.max_chunk_size_tokens': expected an "
        "integer, but got a number instead.",
        f"{S}.max_chunk_size_tokens",
        "invalid_type",
    ),
    (
        static(800, True),
        f"Invalid type for '{S}.chunk_overlap_tokens': expected an "
        "integer, but got a boolean instead.",
        f"{S}.chunk_overlap_tokens",
        "invalid_type",
    ),
    ({"type": "static"}, f"Missing required parameter: '{S}'.", S, "missing_required_parameter"),
    (
        {"type": "static", "static": {"max_chunk_size_tokens": 800}},
        f"Missing required parameter: '{S}.chunk_overlap_tokens'.",
        f"{S}.chunk_overlap_tokens",
        "missing_required_parameter",
    ),
    (
        {"type": "static", "static": None},
        f"Invalid type for '{S}': expected an object, but got null instead.",
        S,
        "invalid_type",
    ),
    (
        {**static(), "extra": 1},
        f"Unknown parameter: '{P}.extra'.",
        f"{P}.extra",
        "unknown_parameter",
    ),
    (
        {"type": "auto", "static": {}},
        f"Unknown parameter: '{P}.static'.",
        f"{P}.static",
        "unknown_parameter",
    ),
    (
        {"type": "other"},
        "Invalid value: 'other'. Supported values are: 'auto' and 'static'.",
        f"{P}.type",
        "invalid_value",
    ),
    ({}, f"Missing required parameter: '{P}.type'.", f"{P}.type", "missing_required_parameter"),
    (
        "auto",
        f"Invalid type for '{P}': expected an object, but got a string instead.",
        P,
        "invalid_type",
    ),
]


@pytest.mark.parametrize(("value", "message", "param", "code"), BAD_STRATEGIES)
def test_bad_chunking_strategy(value: Any, message: str, param: str, code: str) -> None:
    raises_400(lambda: parse_chunking_strategy(value), message, param=param, code=code)


PROSE = " ".join(f"Sentence {n} talks about topic {n % 7} and item {n * 13}." for n in range(900))


@pytest.mark.parametrize(("size", "overlap"), [(800, 400), (100, 50), (100, 0), (1200, 250)])
def test_chunks_are_exact_tiktoken_windows(size: int, overlap: int) -> None:
    tokens = ENCODING.encode_ordinary(PROSE)
    step = size - overlap

    chunks = chunk(PROSE, ChunkingStrategy(size, overlap))

    starts = list(range(0, len(tokens) - overlap, step))
    assert [c.index for c in chunks] == list(range(len(starts)))
    for item, start in zip(chunks, starts, strict=True):
        window = tokens[start : start + size]
        assert item.text == ENCODING.decode(window)
        assert item.tokens == len(window)
    assert all(c.tokens == size for c in chunks[:-1])
    assert chunks[-1].text.endswith(PROSE[-20:])  # the last window reaches the end
    assert chunks[-1].tokens <= size


def test_short_and_empty_texts() -> None:
    assert chunk("Hello world") == [Chunk(0, "Hello world", 2)]
    assert chunk("") == []


def test_window_edges_inside_multibyte_characters_lose_nothing() -> None:
    text = "".join(f"{n}: 🙂 naïve 你好世界 Ωμέγα 🧪🧪 " for n in range(400))
    tokens = ENCODING.encode_ordinary(text)

    chunks = chunk(text, ChunkingStrategy(100, 0))

    assert "".join(c.text for c in chunks) == text  # no overlap: the chunks tile the text
    assert all("\ufffd" not in c.text for c in chunks)
    assert sum(c.tokens for c in chunks) == len(tokens)


def test_ingest_returns_pages_chunks_and_usage_bytes() -> None:
    document = ingest("policy.pdf", make_pdf(["Refunds take 14 days.", "Second page."]))

    assert document.pages == ("Refunds take 14 days.", "Second page.")
    assert document.text == "Refunds take 14 days.\n\nSecond page."
    assert document.usage_bytes == len(document.text.encode())
    assert [c.text for c in document.chunks] == [document.text]
    assert document.strategy == AUTO_CHUNKING


def test_ingest_refuses_a_file_over_the_token_limit() -> None:
    with pytest.raises(ExtractionError) as caught:
        ingest("big.txt", b"word " * 200, max_tokens=100)

    assert caught.value.last_error() == {
        "code": "invalid_file",
        "message": "The file could not be parsed because it is too large.",
    }


# --- attributes and filters -------------------------------------------------------------------


def test_attributes_accept_the_limits_and_copy() -> None:
    value: dict[str, Any] = {f"k{n}": n for n in range(15)}
    value["x" * 64] = "v" * 512
    assert validate_attributes(value) == value
    assert validate_attributes(value) is not value
    assert validate_attributes(None) == {}
    assert validate_attributes({"flag": True, "ratio": 0.5, "name": ""}) == {
        "flag": True,
        "ratio": 0.5,
        "name": "",
    }


BAD_ATTRIBUTES = [
    (
        {f"k{n}": n for n in range(17)},
        "Invalid 'attributes': too many properties. Expected an "
        "object with at most 16 properties, but got an object with "
        "17 properties instead.",
        "attributes",
        "object_above_max_properties",
    ),
    (
        {"k" * 65: 1},
        f"Invalid property name in 'attributes': '{'k' * 65}' is too "
        "long. Expected a string with maximum length 64, but got a "
        "string with length 65 instead.",
        f"attributes.{'k' * 65}",
        "string_above_max_length",
    ),
    (
        {"k": "v" * 513},
        "Invalid 'attributes.k': string too long. Expected a string "
        "with maximum length 512, but got a string with length 513 "
        "instead.",
        "attributes.k",
        "string_above_max_length",
    ),
    (
        {"k": None},
        "Invalid type for 'attributes.k': expected one of a string, "
        "a number, or a boolean, but got null instead.",
        "attributes.k",
        "invalid_type",
    ),
    (
        {"k": [1]},
        "Invalid type for 'attributes.k': expected one of a string, "
        "a number, or a boolean, but got an array instead.",
        "attributes.k",
        "invalid_type",
    ),
    (
        {"k": float("nan")},
        "Invalid type for 'attributes.k': expected one of a string, "
        "a number, or a boolean, but got a number instead.",
        "attributes.k",
        "invalid_type",
    ),
    (
        ["k"],
        "Invalid type for 'attributes': expected an object, but got an array instead.",
        "attributes",
        "invalid_type",
    ),
]


@pytest.mark.parametrize(("value", "message", "param", "code"), BAD_ATTRIBUTES)
def test_bad_attributes(value: Any, message: str, param: str, code: str) -> None:
    raises_400(lambda: validate_attributes(value), message, param=param, code=code)


ATTRS = {"lang": "en", "year": 2024, "score": 4.5, "draft": False}

COMPARISONS = [
    ("eq", "lang", "en", True),
    ("eq", "lang", "EN", False),
    ("eq", "year", 2024.0, True),
    ("eq", "draft", False, True),
    ("eq", "draft", 0, False),
    ("eq", "year", "2024", False),
    ("eq", "lang", ["en"], False),
    ("ne", "lang", "fr", True),
    ("ne", "lang", "en", False),
    ("ne", "draft", 0, True),
    ("gt", "year", 2023, True),
    ("gt", "year", 2024, False),
    ("gt", "lang", "a", False),
    ("gte", "year", 2024, True),
    ("gte", "score", 4.6, False),
    ("lt", "score", 5, True),
    ("lt", "score", 4.5, False),
    ("lt", "draft", 1, False),
    ("lte", "score", 4.5, True),
    ("lte", "year", 2023, False),
    ("in", "lang", ["fr", "en"], True),
    ("in", "year", [2023, 2024], True),
    ("in", "lang", ["fr"], False),
    ("in", "lang", "en", True),
    ("in", "year", ["2024"], False),
    ("nin", "lang", ["fr", "de"], True),
    ("nin", "lang", ["en"], False),
    ("eq", "missing", "x", False),
    ("ne", "missing", "x", False),
    ("nin", "missing", ["x"], False),
    ("gte", "missing", 0, False),
]


@pytest.mark.parametrize(("op", "key", "value", "expected"), COMPARISONS)
def test_comparison_semantics(op: str, key: str, value: Any, expected: bool) -> None:
    parsed = parse_filter({"type": op, "key": key, "value": value})

    assert isinstance(parsed, ComparisonFilter)
    assert parsed.matches(ATTRS) is expected
    assert parsed.to_wire() == {"type": op, "key": key, "value": value}


def test_every_comparison_fails_on_a_file_without_attributes() -> None:
    for op in ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"):
        value = ["x"] if op in ("in", "nin") else 1
        assert not parse_filter({"type": op, "key": "k", "value": value}).matches(None)
        assert not parse_filter({"type": op, "key": "k", "value": value}).matches({})


def test_compound_filters_nest() -> None:
    en = {"type": "eq", "key": "lang", "value": "en"}
    old = {"type": "lt", "key": "year", "value": 2000}
    draft = {"type": "eq", "key": "draft", "value": True}
    good_score = {"type": "gte", "key": "score", "value": 4}
    recent_or_good = {
        "type": "and",
        "filters": [en, {"type": "or", "filters": [draft, good_score]}],
    }
    value = {"type": "or", "filters": [{"type": "and", "filters": [en, old]}, recent_or_good]}

    parsed = parse_filter(value)

    assert isinstance(parsed, CompoundFilter)
    assert parsed.matches(ATTRS)
    assert not parsed.matches({**ATTRS, "score": 1})
    assert parsed.to_wire() == value
    assert parse_filter({"type": "and", "filters": []}).matches(ATTRS)
    assert not parse_filter({"type": "or", "filters": []}).matches(ATTRS)


F = "filters"
BAD_FILTERS = [
    (None, f"Invalid type for '{F}': expected an object, but got null instead.", F, "invalid_type"),
    (
        {"key": "a", "value": 1},
        f"Missing required parameter: '{F}.type'.",
        f"{F}.type",
        "missing_required_parameter",
    ),
    (
        {"type": "like", "key": "a", "value": 1},
        "Invalid value: 'like'. Supported values are: 'eq', 'ne', "
        "'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'and', and 'or'.",
        f"{F}.type",
        "invalid_value",
    ),
    (
        {"type": 3, "key": "a", "value": 1},
        f"Invalid type for '{F}.type': expected a string, but got an integer instead.",
        f"{F}.type",
        "invalid_type",
    ),
    (
        {"type": "eq", "value": 1},
        f"Missing required parameter: '{F}.key'.",
        f"{F}.key",
        "missing_required_parameter",
    ),
    (
        {"type": "eq", "key": "a"},
        f"Missing required parameter: '{F}.value'.",
        f"{F}.value",
        "missing_required_parameter",
    ),
    (
        {"type": "eq", "key": "a", "value": 1, "filters": []},
        f"Unknown parameter: '{F}.filters'.",
        f"{F}.filters",
        "unknown_parameter",
    ),
    (
        {"type": "eq", "key": 1, "value": 1},
        f"Invalid type for '{F}.key': expected a string, but got an integer instead.",
        f"{F}.key",
        "invalid_type",
    ),
    (
        {"type": "eq", "key": "a", "value": None},
        f"Invalid type for '{F}.value': expected one of a string, a "
        "number, a boolean, or an array, but got null instead.",
        f"{F}.value",
        "invalid_type",
    ),
    (
        {"type": "eq", "key": "a", "value": {"x": 1}},
        f"Invalid type for '{F}.value': expected one of a string, a "
        "number, a boolean, or an array, but got an object instead.",
        f"{F}.value",
        "invalid_type",
    ),
    (
        {"type": "in", "key": "a", "value": ["x", True]},
        f"Invalid type for '{F}.value[1]': expected one of a string "
        "or a number, but got a boolean instead.",
        f"{F}.value[1]",
        "invalid_type",
    ),
    (
        {"type": "and"},
        f"Missing required parameter: '{F}.filters'.",
        f"{F}.filters",
        "missing_required_parameter",
    ),
    (
        {"type": "or", "filters": {}},
        f"Invalid type for '{F}.filters': expected an array, but got an object instead.",
        f"{F}.filters",
        "invalid_type",
    ),
    (
        {"type": "and", "filters": [], "key": "a"},
        f"Unknown parameter: '{F}.key'.",
        f"{F}.key",
        "unknown_parameter",
    ),
    (
        {"type": "and", "filters": [{"type": "or", "filters": [{"type": "gt", "key": "a"}]}]},
        f"Missing required parameter: '{F}.filters[0].filters[0].value'.",
        f"{F}.filters[0].filters[0].value",
        "missing_required_parameter",
    ),
]


@pytest.mark.parametrize(("value", "message", "param", "code"), BAD_FILTERS)
def test_bad_filters(value: Any, message: str, param: str, code: str) -> None:
    raises_400(lambda: parse_filter(value), message, param=param, code=code)


def test_filters_nested_too_deep_are_refused() -> None:
    value: dict[str, Any] = {"type": "eq", "key": "a", "value": 1}
    for _ in range(40):
        value = {"type": "and", "filters": [value]}

    with pytest.raises(InvalidRequestError, match="nested too deeply"):
        parse_filter(value)


# --- search -----------------------------------------------------------------------------------

CORPUS = {
    "file-returns": (
        "returns.txt",
        [
            "Our return policy: items can be returned within 30 days of delivery.",
            "Refunds are issued to the original payment method after inspection.",
        ],
    ),
    "file-shipping": (
        "shipping.md",
        [
            "Shipping is free for orders over 50 euros. Delivery takes 3 to 5 days.",
            "Express delivery costs 9 euros and arrives the next day.",
        ],
    ),
    "file-cake": ("cake.txt", ["Filip's favorite food is cake. Ada prefers soup."]),
}
ATTRIBUTES = {
    "file-returns": {"team": "support", "year": 2024},
    "file-shipping": {"team": "logistics", "year": 2023},
    "file-cake": {"team": "kitchen", "year": 2022},
}


def build(order: Sequence[str] = tuple(CORPUS)) -> SearchIndex:
    index = SearchIndex()
    for file_id in order:
        filename, texts = CORPUS[file_id]
        index.add(file_id, filename, [Chunk(i, text, 10) for i, text in enumerate(texts)])
    return index


def found(results: Sequence[Any]) -> list[tuple[str, int]]:
    return [(r.file_id, r.chunk_index) for r in results]


def test_rank_order_on_a_small_corpus() -> None:
    results = build().search("What is the return policy?", attributes=ATTRIBUTES)

    assert found(results)[0] == ("file-returns", 0)
    assert results[0].filename == "returns.txt"
    assert results[0].attributes == {"team": "support", "year": 2024}
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert all(0.0 < r.score <= 1.0 for r in results)
    assert found(build().search("favorite food")) == [("file-cake", 0)]
    # Both hold both words; the shorter chunk ranks first (BM25 length normalisation).
    assert found(build().search("delivery days")) == [
        ("file-returns", 0),
        ("file-shipping", 0),
        ("file-shipping", 1),
    ]


def test_chunks_without_any_query_term_are_not_results() -> None:
    assert build().search("zebra xylophone") == []
    assert build().search("") == []
    assert SearchIndex().search("return") == []


def test_same_inputs_same_results_whatever_the_insertion_order() -> None:
    query = ["delivery the days", "policy"]
    first = build().search(query, max_num_results=50)
    second = build(list(reversed(CORPUS))).search(query, max_num_results=50)

    assert first == second
    assert first == build().search(query, max_num_results=50)


def test_scores_are_normalised_against_the_query_ceiling() -> None:
    index = SearchIndex()
    index.add("file-a", "a.txt", [Chunk(0, "alpha beta", 2), Chunk(1, "alpha", 1)])
    index.add("file-b", "b.txt", [Chunk(0, "gamma", 1)])

    both = index.search("alpha beta")[0]
    half = index.search("alpha delta")

    assert found([both]) == [("file-a", 0)]
    assert 0.0 < both.score < 1.0
    # A query word no chunk holds lowers every score but changes no order.
    assert found(half) == [("file-a", 1), ("file-a", 0)]
    assert all(r.score < both.score for r in half)


def test_ties_go_to_the_smaller_file_id_then_the_earlier_chunk() -> None:
    index = SearchIndex()
    for file_id in ("file-z", "file-b", "file-m"):
        index.add(file_id, f"{file_id}.txt", [Chunk(1, "same words", 2), Chunk(0, "same words", 2)])

    results = index.search("same", max_num_results=4)

    assert len({r.score for r in results}) == 1
    assert found(results) == [("file-b", 0), ("file-b", 1), ("file-m", 0), ("file-m", 1)]


def test_max_num_results_and_score_threshold() -> None:
    index = build()
    everything = index.search("delivery days euros the", max_num_results=50)
    middle = everything[1].score

    assert found(index.search("delivery days euros the", max_num_results=2)) == found(
        everything[:2]
    )
    kept = index.search("delivery days euros the", max_num_results=50, score_threshold=middle)
    assert found(kept) == found(everything[:2])
    assert index.search("delivery", score_threshold=1.0) == []


def test_filters_select_files_by_attributes() -> None:
    filters = parse_filter({"type": "lt", "key": "year", "value": 2024})

    results = build().search("delivery days", filters=filters, attributes=ATTRIBUTES)

    assert found(results) == [("file-shipping", 0), ("file-shipping", 1)]
    assert results[0].attributes == {"team": "logistics", "year": 2023}
    assert build().search("delivery", filters=filters) == []  # no attributes: no match


def test_files_join_and_leave_the_index() -> None:
    index = build()
    before = index.search("cake soup")

    index.remove("file-cake")
    index.remove("file-cake")  # idempotent
    assert index.search("cake soup") == []
    assert "file-cake" not in index
    assert index.file_ids == ["file-returns", "file-shipping"]
    assert len(index) == 4

    index.add("file-cake", "cake.txt", [Chunk(0, CORPUS["file-cake"][1][0], 10)])
    assert index.search("cake soup") == before
    assert found(index.search("delivery", max_num_results=50)) == found(
        build().search("delivery", max_num_results=50)
    )


def test_adding_a_file_again_replaces_it() -> None:
    index = build()
    index.add("file-cake", "cake.txt", [Chunk(0, "Now about bread.", 3)])

    assert index.search("cake") == []
    assert found(index.search("bread")) == [("file-cake", 0)]
    assert len(index) == 5


def test_several_indexes_are_one_corpus() -> None:
    assistant_store, thread_store = SearchIndex(), SearchIndex()
    for file_id, (filename, texts) in CORPUS.items():
        target = thread_store if file_id == "file-cake" else assistant_store
        target.add(file_id, filename, [Chunk(i, t, 10) for i, t in enumerate(texts)])

    split = search([assistant_store, thread_store], "cake delivery", max_num_results=50)

    assert split == build().search("cake delivery", max_num_results=50)


def test_several_queries_keep_each_chunks_best_score() -> None:
    index = build()
    cake, refunds = index.search("cake"), index.search("refunds")

    both = index.search(["cake", "refunds"])

    assert {(r.file_id, r.score) for r in both} == {
        (cake[0].file_id, cake[0].score),
        (refunds[0].file_id, refunds[0].score),
    }


def test_a_custom_ranker_replaces_bm25() -> None:
    calls: list[tuple[str, int]] = []

    def by_length(query: str, chunks: Sequence[FileChunk]) -> list[float]:
        calls.append((query, len(chunks)))
        return [len(c.text) / 100 for c in chunks]

    results = build().search(
        "anything",
        ranker=by_length,
        filters=parse_filter({"type": "ne", "key": "team", "value": "kitchen"}),
        attributes=ATTRIBUTES,
    )

    assert calls == [("anything", 4)]  # the filter ran first
    assert results[0].score == 0.7
    assert found(results) == [
        ("file-shipping", 0),
        ("file-returns", 0),
        ("file-returns", 1),
        ("file-shipping", 1),
    ]


def test_ranker_scores_are_clamped_and_zero_is_no_match() -> None:
    scores = [2.0, -1.0, 0.5, 0.0, 0.5]

    results = build().search("x", ranker=lambda query, chunks: scores)

    assert [r.score for r in results] == [1.0, 0.5, 0.5]


@pytest.mark.parametrize(
    ("scores", "error"),
    [([0.5], "returned 1 scores for 5 chunks"), ([float("nan")] * 5, "NaN")],
)
def test_a_broken_ranker_is_a_clear_error(scores: list[float], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        build().search("x", ranker=lambda query, chunks: scores)


def test_search_results_page_shape() -> None:
    results = build().search("return policy", max_num_results=1, attributes=ATTRIBUTES)

    page = search_results_page(["return policy"], results)

    assert page == {
        "object": "vector_store.search_results.page",
        "search_query": ["return policy"],
        "data": [
            {
                "file_id": "file-returns",
                "filename": "returns.txt",
                "score": results[0].score,
                "attributes": {"team": "support", "year": 2024},
                "content": [{"type": "text", "text": CORPUS["file-returns"][1][0]}],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    assert list(page) == ["object", "search_query", "data", "has_more", "next_page"]


@pytest.mark.parametrize("include_content", [False, True])
def test_file_search_step_result_shape(include_content: bool) -> None:
    (result,) = build().search("favorite food")

    entry = file_search_result(result, include_content=include_content)

    keys = ["file_id", "file_name", "score", "attributes"] + (
        ["content"] if include_content else []
    )
    assert list(entry) == keys
    assert entry["file_name"] == "cake.txt"
    assert entry["attributes"] == {}
    if include_content:
        assert entry["content"] == [{"type": "text", "text": CORPUS["file-cake"][1][0]}]


# --- search requests --------------------------------------------------------------------------


def test_search_request_defaults() -> None:
    request = parse_search_request({"query": "What is the return policy?"})

    assert request == SearchRequest(query=("What is the return policy?",))
    assert request.max_num_results == 10
    assert request.search_query == ["What is the return policy?"]


def test_search_request_every_field() -> None:
    request = parse_search_request(
        {
            "query": ["What is the return policy?", "refund time"],
            "rewrite_query": True,
            "max_num_results": 50,
            "ranking_options": {"ranker": "default-2024-11-15", "score_threshold": 0.25},
            "filters": {"type": "eq", "key": "lang", "value": "en"},
        }
    )

    assert request.search_query == ["return policy", "refund time"]
    assert (request.max_num_results, request.ranker, request.score_threshold) == (
        50,
        "default-2024-11-15",
        0.25,
    )
    assert request.filters == ComparisonFilter("eq", "lang", "en")


@pytest.mark.parametrize(
    ("query", "rewritten"),
    [
        ("What is the return policy?", "return policy"),
        ("How do I RESET my password, please?", "reset password"),
        ("the the cake Cake", "cake"),
        ("What is it?", "What is it?"),
    ],
)
def test_rewrite_query(query: str, rewritten: str) -> None:
    assert rewrite_query(query) == rewritten


BAD_SEARCHES = [
    ({}, "Missing required parameter: 'query'.", "query", "missing_required_parameter"),
    ({"query": "x", "top_k": 3}, "Unknown parameter: 'top_k'.", "top_k", "unknown_parameter"),
    (
        {"query": 3},
        "Invalid type for 'query': expected one of a string or an "
        "array of strings, but got an integer instead.",
        "query",
        "invalid_type",
    ),
    (
        {"query": ["a", None]},
        "Invalid type for 'query[1]': expected a string, but got null instead.",
        "query[1]",
        "invalid_type",
    ),
    (
        {"query": "x", "max_num_results": 0},
        "Invalid 'max_num_results': integer below minimum value. "
        "Expected a value >= 1, but got 0 instead.",
        "max_num_results",
        "integer_below_min_value",
    ),
    (
        {"query": "x", "max_num_results": 51},
        "Invalid 'max_num_results': integer above maximum value. "
        "Expected a value <= 50, but got 51 instead.",
        "max_num_results",
        "integer_above_max_value",
    ),
    (
        {"query": "x", "max_num_results": "5"},
        "Invalid type for 'max_num_results': expected an integer, but got a string instead.",
        "max_num_results",
        "invalid_type",
    ),
    (
        {"query": "x", "rewrite_query": "yes"},
        "Invalid type for 'rewrite_query': expected a boolean, but got a string instead.",
        "rewrite_query",
        "invalid_type",
    ),
    (
        {"query": "x", "ranking_options": {"ranker": "default_2024_08_21"}},
        "Invalid value: 'default_2024_08_21'. Supported values are: "
        "'none', 'auto', and 'default-2024-11-15'.",
        "ranking_options.ranker",
        "invalid_value",
    ),
    (
        {"query": "x", "ranking_options": {"score_threshold": 1.5}},
        "Invalid 'ranking_options.score_threshold': decimal above "
        "maximum value. Expected a value <= 1, but got 1.5 instead.",
        "ranking_options.score_threshold",
        "decimal_above_max_value",
    ),
    (
        {"query": "x", "ranking_options": {"score_threshold": -1}},
        "Invalid 'ranking_options.score_threshold': decimal below "
        "minimum value. Expected a value >= 0, but got -1 instead.",
        "ranking_options.score_threshold",
        "decimal_below_min_value",
    ),
    (
        {"query": "x", "ranking_options": {"score_threshold": "high"}},
        "Invalid type for 'ranking_options.score_threshold': "
        "expected a number, but got a string instead.",
        "ranking_options.score_threshold",
        "invalid_type",
    ),
    (
        {"query": "x", "ranking_options": {"hybrid_search": None}},
        "Unknown parameter: 'ranking_options.hybrid_search'.",
        "ranking_options.hybrid_search",
        "unknown_parameter",
    ),
    (
        {"query": "x", "filters": {"type": "eq", "key": "a"}},
        "Missing required parameter: 'filters.value'.",
        "filters.value",
        "missing_required_parameter",
    ),
]


@pytest.mark.parametrize(("body", "message", "param", "code"), BAD_SEARCHES)
def test_bad_search_requests(body: dict[str, Any], message: str, param: str, code: str) -> None:
    raises_400(lambda: parse_search_request(body), message, param=param, code=code)


def test_duplicate_chunk_positions_still_sort() -> None:
    index = SearchIndex()
    index.add("file-a", "a.txt", [Chunk(0, "same text", 2), Chunk(0, "same text", 2)])

    assert [r.text for r in index.search("same")] == ["same text", "same text"]


def test_max_num_results_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        build().search("cake", max_num_results=0)
