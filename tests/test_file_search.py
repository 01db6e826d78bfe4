"""file_search inside runs: the step and its results, `include[]`, the default responder's
cited answer, scripted searches, expired stores, and the stream the SDK's handler reads.

Every file and store is made through the SDK, as a user's test would make them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message
from openai.types.beta.threads.runs import RunStep, ToolCall
from openapi import assert_valid, assert_valid_event

from emulator import Emulator, RunContext, reply

CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
FOODS = "This file lists favorite foods.\n\nFilip's favorite food is cake. Anna likes soup."
QUESTION = "What is Filip's favorite food?"
BASE = "https://api.openai.com/v1"
HEADERS = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "assistants=v2"}


@dataclass(frozen=True)
class Shelf:
    """Uploaded files and the store that holds two of them (`notes` is in no store)."""

    foods: str
    cars: str
    notes: str
    store: str


def upload(client: openai.OpenAI, filename: str, text: str) -> str:
    return client.files.create(file=(filename, text.encode()), purpose="assistants").id


@pytest.fixture
def shelf(client: openai.OpenAI) -> Shelf:
    foods = upload(client, "favorite_foods.txt", FOODS)
    cars = upload(client, "cars.txt", "Cars have wheels and an engine.")
    notes = upload(client, "notes.md", "Filip also likes pie, says the thread.")
    store = client.vector_stores.create(name="Foods", file_ids=[foods, cars])
    return Shelf(foods, cars, notes, store.id)


@pytest.fixture
def librarian(client: openai.OpenAI, shelf: Shelf) -> Assistant:
    return client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [shelf.store]}},
    )


@pytest.fixture
def question(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])


def raw_steps(client: openai.OpenAI, thread_id: str, run_id: str, **query: Any) -> list[Any]:
    steps = client.beta.threads.runs.steps.with_raw_response.list(
        run_id, thread_id=thread_id, order="asc", **query
    )
    data: list[Any] = json.loads(steps.text)["data"]
    for step in data:
        assert_valid("RunStepObject", step)
    return data


def raw_messages(client: openai.OpenAI, thread_id: str) -> list[Any]:
    answer = client.beta.threads.messages.with_raw_response.list(thread_id=thread_id)
    data: list[Any] = json.loads(answer.text)["data"]
    for message in data:
        assert_valid("MessageObject", message)
    return data


# --- the default responder: a fake RAG with no setup ------------------------------------------


def test_the_default_responder_searches_and_cites_the_best_chunk(
    emu: Emulator, client: openai.OpenAI, shelf: Shelf, librarian: Assistant, question: Thread
) -> None:
    emu.clock.advance(hours=1)

    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=librarian.id)

    assert run.status == "completed"
    search, creation = raw_steps(client, question.id, run.id, include=[CONTENT])
    assert search["type"] == "tool_calls" and search["status"] == "completed"
    (call,) = search["step_details"]["tool_calls"]
    assert list(call) == ["id", "type", "file_search"]
    assert call["file_search"]["ranking_options"] == {
        "ranker": "default_2024_08_21",
        "score_threshold": 0.0,
    }
    best = call["file_search"]["results"][0]
    assert list(best) == ["file_id", "file_name", "score", "attributes", "content"]
    assert (best["file_id"], best["file_name"]) == (shelf.foods, "favorite_foods.txt")
    assert best["content"] == [{"type": "text", "text": FOODS}]
    assert creation["type"] == "message_creation"
    assert search["usage"]["completion_tokens"] > 0

    text = raw_messages(client, question.id)[0]["content"][0]["text"]
    marker = "【4:0†favorite_foods.txt】"
    assert text["value"].endswith(marker) and "Filip's favorite food is cake." in text["value"]
    (note,) = text["annotations"]
    assert note == {
        "type": "file_citation",
        "text": marker,
        "start_index": len(text["value"]) - len(marker),
        "end_index": len(text["value"]),
        "file_citation": {"file_id": shelf.foods},
    }
    assert list(note) == ["type", "text", "start_index", "end_index", "file_citation"]
    assert text["value"][note["start_index"] : note["end_index"]] == marker
    assert client.vector_stores.retrieve(shelf.store).last_active_at == emu.clock.now()


def test_the_run_searches_the_assistant_and_the_thread_stores(
    client: openai.OpenAI, shelf: Shelf, librarian: Assistant
) -> None:
    thread = client.beta.threads.create(  # the attachment makes the thread's store
        messages=[
            {
                "role": "user",
                "content": QUESTION,
                "attachments": [{"file_id": shelf.notes, "tools": [{"type": "file_search"}]}],
            }
        ]
    )

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=librarian.id)

    results = raw_steps(client, thread.id, run.id)[0]["step_details"]["tool_calls"][0]
    found = [r["file_id"] for r in results["file_search"]["results"]]
    assert set(found) == {shelf.foods, shelf.notes}
    scores = [r["score"] for r in results["file_search"]["results"]]
    assert scores == sorted(scores, reverse=True)


def menu(client: openai.OpenAI) -> str:
    """A store of 35 small chunks: all hold "is", one alone holds the question's rarer words."""
    lines = [f"Dish {i} is on the menu; it is served warm." for i in range(250)]
    lines[100] = "Filip's favorite food is cake."
    menu = upload(client, "menu.txt", "\n".join(lines))
    small = {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}
    store = client.vector_stores.create(
        file_ids=[menu], chunking_strategy={"type": "static", "static": small}
    )
    return store.id


@pytest.mark.parametrize(
    ("model", "tool", "found", "threshold"),
    [
        ("gpt-4o", {"type": "file_search"}, 20, 0.0),
        ("gpt-3.5-turbo", {"type": "file_search"}, 5, 0.0),
        (
            "gpt-4o",
            {
                "type": "file_search",
                "file_search": {
                    "max_num_results": 2,
                    "ranking_options": {"ranker": "auto", "score_threshold": 0.25},
                },
            },
            1,  # the Filip chunk: the others score below the threshold
            0.25,
        ),
    ],
)
def test_the_tool_sets_the_result_count_and_threshold(
    client: openai.OpenAI,
    question: Thread,
    model: str,
    tool: Any,
    found: int,
    threshold: float,
) -> None:
    bot = client.beta.assistants.create(
        model=model,
        tools=[tool],
        tool_resources={"file_search": {"vector_store_ids": [menu(client)]}},
    )

    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=bot.id)

    call = raw_steps(client, question.id, run.id)[0]["step_details"]["tool_calls"][0]
    assert call["file_search"]["ranking_options"] == {
        "ranker": "default_2024_08_21",
        "score_threshold": threshold,
    }
    results = call["file_search"]["results"]
    assert len(results) == found
    assert all(r["score"] >= threshold for r in results)


@pytest.mark.parametrize(
    "setup",
    ["no file_search tool", "no stores", "empty store", "tool_choice none"],
)
def test_the_default_responder_only_searches_stores_that_hold_files(
    client: openai.OpenAI, shelf: Shelf, question: Thread, setup: str
) -> None:
    tools: Any = [] if setup == "no file_search tool" else [{"type": "file_search"}]
    stores = {"no stores": [], "empty store": [client.vector_stores.create().id]}.get(
        setup, [shelf.store]
    )
    bot = client.beta.assistants.create(
        model="gpt-4o", tools=tools, tool_resources={"file_search": {"vector_store_ids": stores}}
    )

    run = client.beta.threads.runs.create_and_poll(
        thread_id=question.id,
        assistant_id=bot.id,
        tool_choice="none" if setup == "tool_choice none" else None,  # type: ignore[arg-type]
    )

    assert [s["type"] for s in raw_steps(client, question.id, run.id)] == ["message_creation"]
    assert raw_messages(client, question.id)[0]["content"][0]["text"]["value"] == (
        f"You said: {QUESTION}"
    )


# --- include[] --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["include[]", "include%5B%5D"])
def test_include_adds_the_content_to_listed_and_retrieved_steps(
    emu: Emulator, client: openai.OpenAI, librarian: Assistant, question: Thread, key: str
) -> None:
    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=librarian.id)
    step = raw_steps(client, question.id, run.id)[0]
    path = f"{BASE}/threads/{question.id}/runs/{run.id}/steps"

    for url in (f"{path}?order=asc", f"{path}/{step['id']}?"):
        plain = json.loads(emu.handle("GET", url, HEADERS, b"").body)
        full = json.loads(emu.handle("GET", f"{url}&{key}={CONTENT}", HEADERS, b"").body)
        plain_step, full_step = (s["data"][0] if "data" in s else s for s in (plain, full))
        assert_valid("RunStepObject", plain_step)
        assert_valid("RunStepObject", full_step)
        plain_results = plain_step["step_details"]["tool_calls"][0]["file_search"]["results"]
        full_results = full_step["step_details"]["tool_calls"][0]["file_search"]["results"]
        assert [list(r) for r in plain_results] == [
            ["file_id", "file_name", "score", "attributes"]
        ] * len(plain_results)
        assert [
            {**r, "content": f["content"]} for r, f in zip(plain_results, full_results, strict=True)
        ] == (full_results)


def test_include_with_another_value_is_refused(
    emu: Emulator, client: openai.OpenAI, librarian: Assistant, question: Thread
) -> None:
    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=librarian.id)

    with pytest.raises(openai.BadRequestError, match="Supported values are"):
        client.beta.threads.runs.steps.list(
            run.id,
            thread_id=question.id,
            include=["step_details.tool_calls[*].file_search.results"],  # type: ignore[list-item]
        )


# --- scripted searches ------------------------------------------------------------------------


def test_a_responder_searches_then_cites_what_it_found(
    emu: Emulator, client: openai.OpenAI, shelf: Shelf, librarian: Assistant, question: Thread
) -> None:
    seen: list[RunContext] = []

    def answer(context: RunContext) -> reply.Text:
        seen.append(context)
        marker, note = context.citation(0)
        return reply.text(f"Cake{marker}.", annotations=[note])

    emu.script(reply.file_search("cake", "favorite food"), answer)

    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=librarian.id)

    (context,) = seen
    assert context.vector_store_ids == (shelf.store,) and context.has_files
    (search,) = context.file_searches
    assert search.queries == ("cake", "favorite food")
    assert context.file_search_results[0].file_id == shelf.foods
    assert context.file_search_results[0].text == FOODS
    text = raw_messages(client, question.id)[0]["content"][0]["text"]
    assert text["value"] == "Cake【4:0†favorite_foods.txt】."
    assert (text["annotations"][0]["start_index"], text["annotations"][0]["end_index"]) == (4, 28)
    assert [s["type"] for s in raw_steps(client, question.id, run.id)] == [
        "tool_calls",
        "message_creation",
    ]
    usage = run.usage
    assert usage is not None and usage.prompt_tokens > 0


def test_scripted_json_replies_search_too(
    emu: Emulator, client: openai.OpenAI, shelf: Shelf, librarian: Assistant, question: Thread
) -> None:
    emu.script(*(reply.from_data(d) for d in ({"file_search": "soup"}, "Anna.")))

    run = client.beta.threads.runs.create_and_poll(thread_id=question.id, assistant_id=librarian.id)

    call = raw_steps(client, question.id, run.id)[0]["step_details"]["tool_calls"][0]
    assert call["file_search"]["results"][0]["file_id"] == shelf.foods
    assert reply.from_data({"file_search": {"queries": ["a", "b"], "id": "call_x"}}) == (
        reply.file_search("a", "b", id="call_x")
    )


def test_nothing_found_leaves_empty_results_and_the_default_says_so(
    client: openai.OpenAI, librarian: Assistant
) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "zebra?"}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=librarian.id)

    call = raw_steps(client, thread.id, run.id)[0]["step_details"]["tool_calls"][0]
    assert call["file_search"]["results"] == []
    value = raw_messages(client, thread.id)[0]["content"][0]["text"]["value"]
    assert value.startswith("I found nothing about that in the files.")


@pytest.mark.parametrize(
    ("tools", "choice", "replies", "error"),
    [
        ([], None, [reply.file_search("x")], "the run has no file_search tool"),
        ([{"type": "file_search"}], "none", [reply.file_search("x")], "tool_choice is 'none'"),
        ([{"type": "file_search"}], None, [reply.file_search("x")] * 21, "made 20"),
    ],
)
def test_a_search_the_run_cannot_make_fails_the_run(
    emu: Emulator,
    client: openai.OpenAI,
    question: Thread,
    tools: Any,
    choice: Any,
    replies: list[reply.Reply],
    error: str,
) -> None:
    bot = client.beta.assistants.create(model="gpt-4o", tools=tools)
    emu.script(*replies)

    run = client.beta.threads.runs.create_and_poll(
        thread_id=question.id, assistant_id=bot.id, tool_choice=choice
    )

    assert run.status == "failed" and run.last_error is not None
    assert error in run.last_error.message
    assert error in str(emu.responder_errors[-1].error)


# --- expired stores ---------------------------------------------------------------------------


def test_a_run_on_an_expired_store_is_refused_and_creates_nothing(
    emu: Emulator, client: openai.OpenAI, shelf: Shelf, librarian: Assistant
) -> None:
    notes = client.vector_stores.create(
        file_ids=[shelf.notes], expires_after={"anchor": "last_active_at", "days": 1}
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": QUESTION}],
        tool_resources={"file_search": {"vector_store_ids": [notes.id]}},
    )
    emu.clock.advance(hours=24)
    assert client.vector_stores.retrieve(notes.id).status == "expired"

    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=librarian.id)

    assert caught.value.body == {
        "message": f"Vector store {notes.id} is expired.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert emu.runs(thread.id) == [] and len(emu.messages(thread.id)) == 1
    untouched = client.vector_stores.retrieve(shelf.store)  # the assistant's store: not used
    assert untouched.last_active_at == untouched.created_at < emu.clock.now()


# --- streaming --------------------------------------------------------------------------------


def stream_frames(thread_id: str, assistant_id: str, query: str = "") -> list[tuple[str, Any]]:
    import httpx

    with httpx.Client() as http:
        answer = http.post(
            f"{BASE}/threads/{thread_id}/runs{query}",
            json={"assistant_id": assistant_id, "stream": True},
            headers=HEADERS,
        )
    frames = []
    for block in answer.text[:-2].split("\n\n"):
        event, data = block.split("\n")
        name, raw = event.removeprefix("event: "), data.removeprefix("data: ")
        frames.append((name, json.loads(raw) if raw != "[DONE]" else raw))
    for name, data in frames[:-1]:
        if name.startswith(("thread.run.step.", "thread.message.")):  # the run's tool echo is
            assert_valid_event(name, data)  # issue 11's (max_num_results: null)
    return frames


@pytest.mark.parametrize("include", [False, True])
def test_the_stream_sends_the_call_once_and_its_results_at_completion(
    shelf: Shelf, librarian: Assistant, question: Thread, include: bool
) -> None:
    frames = stream_frames(question.id, librarian.id, f"?include[]={CONTENT}" if include else "")

    names = [name for name, _ in frames]
    assert names[:8] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.step.created",
    ]
    created, delta, completed = frames[3][1], frames[5][1], frames[6][1]
    assert created["step_details"] == {"type": "tool_calls", "tool_calls": []}
    assert names.count("thread.run.step.delta") == 1
    (call,) = delta["delta"]["step_details"]["tool_calls"]
    assert call == {
        "index": 0,
        "id": call["id"],
        "type": "file_search",
        "file_search": {
            "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
            "results": [],
        },
    }
    results = completed["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert results and all(("content" in r) is include for r in results)
    texts = [d["delta"]["content"][0]["text"] for n, d in frames if n == "thread.message.delta"]
    (cited,) = [t for t in texts if t.get("annotations")]
    marker = "【4:0†favorite_foods.txt】"
    assert cited["value"] == marker
    assert cited["annotations"] == [
        {
            "index": 0,
            "type": "file_citation",
            "text": marker,
            "start_index": cited["annotations"][0]["start_index"],
            "end_index": cited["annotations"][0]["start_index"] + len(marker),
            "file_citation": {"file_id": shelf.foods, "quote": ""},
        }
    ]
    (done,) = [d for n, d in frames if n == "thread.message.completed"]
    assert "quote" not in json.dumps(done)
    assert "".join(t["value"] for t in texts) == done["content"][0]["text"]["value"]


class Handler(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.seen.append(("created", tool_call.model_dump()))

    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.seen.append(("done", tool_call.model_dump()))

    def on_run_step_done(self, run_step: RunStep) -> None:
        self.seen.append(("step", run_step.model_dump()))

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        if delta.annotations:
            self.seen.append(("annotation", delta.annotations[0].model_dump()))

    def on_message_done(self, message: Message) -> None:
        self.seen.append(("message", message.model_dump()))


class AsyncHandler(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    async def on_tool_call_created(self, tool_call: ToolCall) -> None:
        self.seen.append(("created", tool_call.model_dump()))

    async def on_tool_call_done(self, tool_call: ToolCall) -> None:
        self.seen.append(("done", tool_call.model_dump()))

    async def on_run_step_done(self, run_step: RunStep) -> None:
        self.seen.append(("step", run_step.model_dump()))

    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        if delta.annotations:
            self.seen.append(("annotation", delta.annotations[0].model_dump()))

    async def on_message_done(self, message: Message) -> None:
        self.seen.append(("message", message.model_dump()))


def check_handler(seen: list[tuple[str, Any]], foods: str) -> None:
    kinds = [kind for kind, _ in seen]
    assert kinds[:3] == ["created", "done", "step"]
    created, done, step = (data for _, data in seen[:3])
    assert created["file_search"]["results"] == [] == done["file_search"]["results"]
    results = step["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert results[0]["file_id"] == foods
    assert results[0]["content"][0]["text"] == FOODS  # created with include[]
    assert done["file_search"]["ranking_options"]["score_threshold"] == 0.0  # not summed
    annotation = dict(seen)["annotation"]
    assert annotation["file_citation"] == {"file_id": foods, "quote": ""}
    message = dict(seen)["message"]
    (note,) = message["content"][0]["text"]["annotations"]
    assert note["file_citation"]["file_id"] == foods


def test_the_sdk_stream_handler_sees_the_search_and_the_citation(
    client: openai.OpenAI, shelf: Shelf, librarian: Assistant, question: Thread
) -> None:
    handler = Handler()
    with client.beta.threads.runs.stream(
        thread_id=question.id,
        assistant_id=librarian.id,
        event_handler=handler,
        include=[CONTENT],
    ) as stream:
        stream.until_done()

    assert stream.get_final_run().status == "completed"
    check_handler(handler.seen, shelf.foods)


def test_the_async_sdk_stream_handler_sees_the_search_and_the_citation(
    async_client: openai.AsyncOpenAI, shelf: Shelf, librarian: Assistant, question: Thread
) -> None:
    handler = AsyncHandler()

    async def main() -> None:
        async with async_client.beta.threads.runs.stream(
            thread_id=question.id,
            assistant_id=librarian.id,
            event_handler=handler,
            include=[CONTENT],
        ) as stream:
            await stream.until_done()

    anyio.run(main)
    check_handler(handler.seen, shelf.foods)
