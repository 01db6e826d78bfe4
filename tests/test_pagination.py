"""Cursor lists: `limit`, `order`, `after`, `before`, `first_id`/`last_id`/`has_more`, paging."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.beta import Thread

from emulator import Emulator


@pytest.fixture
def seven(client: openai.OpenAI) -> list[str]:
    """Ids of seven assistants, oldest first (all created in the same emulator second)."""
    return [client.beta.assistants.create(model="gpt-4o", name=f"a{n}").id for n in range(7)]


def _raw_list(client: openai.OpenAI, **query: Any) -> dict[str, Any]:
    response = client.beta.assistants.with_raw_response.list(**query)
    body: dict[str, Any] = response.http_response.json()
    return body


def _expected(ids: list[str], limit: int, after: str | None, before: str | None) -> dict[str, Any]:
    """The documented semantics, spelled out: `ids` are already in the requested order."""
    if after is not None:
        rest = ids[ids.index(after) + 1 :]
        data, has_more = rest[:limit], len(rest) > limit
    elif before is not None:
        rest = ids[: ids.index(before)]
        data, has_more = rest[-limit:], len(rest) > limit  # the page just before the cursor
    else:
        data, has_more = ids[:limit], len(ids) > limit
    return {
        "data": data,
        "first_id": data[0] if data else None,
        "last_id": data[-1] if data else None,
        "has_more": has_more,
    }


def test_an_empty_list(client: openai.OpenAI) -> None:
    assert _raw_list(client) == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_default_limit_is_20_and_order_desc(client: openai.OpenAI) -> None:
    ids = [client.beta.assistants.create(model="gpt-4o").id for _ in range(25)]

    page = client.beta.assistants.list()

    assert [a.id for a in page.data] == ids[::-1][:20]
    assert page.has_more is True
    assert [a.id for a in client.beta.assistants.list(limit=100)] == ids[::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 2, 3, 6, 7, 100])
def test_every_cursor_gives_the_documented_page(
    client: openai.OpenAI, seven: list[str], order: str, limit: int
) -> None:
    ids = seven if order == "asc" else seven[::-1]
    cursors: list[tuple[str | None, str | None]] = [(None, None)]
    cursors += [(c, None) for c in ids] + [(None, c) for c in ids]

    for after, before in cursors:
        query = {"limit": limit, "order": order, "after": after, "before": before}
        page = _raw_list(client, **{k: v for k, v in query.items() if v is not None})
        page["data"] = [a["id"] for a in page.pop("data")]

        assert page == {"object": "list", **_expected(ids, limit, after, before)}, query


def test_sdk_auto_pagination_visits_every_item_once(
    client: openai.OpenAI, emu: Emulator, seven: list[str]
) -> None:
    visited = [a.id for a in client.beta.assistants.list(limit=3)]

    assert visited == seven[::-1]
    pages = [dict(r.query) for r in emu.requests if r.method == "GET"]
    assert pages == [
        {"limit": "3"},
        {"limit": "3", "after": seven[4]},
        {"limit": "3", "after": seven[1]},
    ]


@pytest.mark.anyio
async def test_async_auto_pagination_visits_every_item_once(
    async_client: openai.AsyncOpenAI, emu: Emulator
) -> None:
    ids = [(await async_client.beta.assistants.create(model="gpt-4o")).id for _ in range(8)]

    visited = [a.id async for a in async_client.beta.assistants.list(limit=3, order="asc")]

    assert visited == ids
    assert len([r for r in emu.requests if r.method == "GET"]) == 3


def test_paging_back_with_before(client: openai.OpenAI, seven: list[str]) -> None:
    forward = []
    page = client.beta.assistants.list(limit=3, order="asc")
    while True:
        forward.append([a.id for a in page.data])
        if not page.has_more:
            break
        page = client.beta.assistants.list(limit=3, order="asc", after=page.data[-1].id)

    backward = []
    page = client.beta.assistants.list(limit=3, order="asc", before=seven[-1])
    while True:
        backward.append([a.id for a in page.data])
        if not page.has_more:
            break
        page = client.beta.assistants.list(limit=3, order="asc", before=page.data[0].id)

    assert forward == [seven[0:3], seven[3:6], seven[6:7]]
    assert backward == [seven[3:6], seven[0:3]]


def test_deleted_items_leave_no_gap_in_pages(client: openai.OpenAI, seven: list[str]) -> None:
    for assistant_id in seven[1::2]:
        client.beta.assistants.delete(assistant_id)

    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc")] == seven[::2]
    page = client.beta.assistants.list(limit=2, order="desc", before=seven[0])
    assert ([a.id for a in page.data], page.has_more) == ([seven[4], seven[2]], True)


def test_messages_page_like_assistants(client: openai.OpenAI, emu: Emulator) -> None:
    thread: Thread = client.beta.threads.create(
        messages=[{"role": "user", "content": str(n)} for n in range(5)]
    )
    ids = [m["id"] for m in emu.messages(thread.id)]

    page = client.beta.threads.messages.list(thread.id, limit=2, order="asc", after=ids[0])
    assert ([m.id for m in page.data], page.has_more) == (ids[1:3], True)
    page = client.beta.threads.messages.list(thread.id, limit=2, before=ids[1])
    assert ([m.id for m in page.data], page.has_more) == (ids[3:1:-1], True)
    assert [m.id for m in client.beta.threads.messages.list(thread.id, limit=2)] == ids[::-1]


@pytest.mark.parametrize(
    ("query", "message", "code"),
    [
        (
            "limit=0",
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 "
            "instead.",
            "integer_below_min_value",
        ),
        (
            "limit=101",
            "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 "
            "instead.",
            "integer_above_max_value",
        ),
        (
            "limit=ten",
            "Invalid type for 'limit': expected an integer, but got 'ten' instead.",
            "invalid_type",
        ),
        (
            "order=sideways",
            "Invalid value: 'sideways'. Supported values are: 'asc' and 'desc'.",
            "invalid_value",
        ),
    ],
)
@pytest.mark.parametrize("path", ["/assistants", "/threads/{thread}/messages"])
def test_bad_list_parameters_are_400(
    client: openai.OpenAI, emu: Emulator, query: str, message: str, code: str, path: str
) -> None:
    thread = client.beta.threads.create()
    name, _, value = query.partition("=")

    with pytest.raises(openai.BadRequestError) as caught:
        client.get(path.format(thread=thread.id), cast_to=object, options={"params": {name: value}})

    assert caught.value.body == {
        "message": message,
        "type": "invalid_request_error",
        "param": name,
        "code": code,
    }
    assert emu.check_invariants() == []


@pytest.mark.parametrize("limit", [0, 101])
def test_sdk_list_with_a_bad_limit_raises(client: openai.OpenAI, limit: int) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.assistants.list(limit=limit)

    assert caught.value.param == "limit"
