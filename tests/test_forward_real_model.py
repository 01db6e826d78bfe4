"""`forward` against a real model: llama.cpp's OpenAI-compatible server with SmolLM2-135M.

CI starts the server with `.ci/local-model start` and sets EMULATOR_TEST_LOCAL_MODEL_URL; run
`eval "$(.ci/local-model start)"` to run these locally. Greedy sampling (temperature 0) and
the per-run seed keep the small model's answers the same from run to run.
"""

from __future__ import annotations

import json
import os

import openai
import pytest
from openai.types.beta.threads import Run

from emulator import Emulator
from emulator.engine.forward import forward

URL = os.environ.get("EMULATOR_TEST_LOCAL_MODEL_URL", "")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

pytestmark = pytest.mark.skipif(
    not URL,
    reason='EMULATOR_TEST_LOCAL_MODEL_URL is not set; run `eval "$(.ci/local-model start)"` '
    "to start the local model server (CI always does)",
)


@pytest.fixture
def local_model(emu: Emulator) -> Emulator:
    emu.respond_with(forward(URL, timeout=120))
    return emu


def ask(client: openai.OpenAI, question: str, **fields: object) -> Run:
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        instructions="You are a helpful assistant. Answer in one short sentence.",
        temperature=0,
        tools=[WEATHER],
    )
    return client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": question}]},
        **fields,  # type: ignore[arg-type]
    )


def answer(client: openai.OpenAI, run: Run) -> str:
    message = client.beta.threads.messages.list(thread_id=run.thread_id, limit=1).data[0]
    assert message.role == "assistant" and message.run_id == run.id
    return message.content[0].text.value  # type: ignore[union-attr]


def test_an_assistant_answers_with_text_from_the_model(
    client: openai.OpenAI, local_model: Emulator
) -> None:
    run = ask(client, "What is the capital of France?", tool_choice="none")

    assert run.status == "completed", run.last_error
    assert answer(client, run).strip()


def test_a_named_tool_choice_yields_a_call_and_the_outputs_a_reply(
    client: openai.OpenAI, local_model: Emulator
) -> None:
    run = ask(
        client,
        "What is the weather in Paris?",
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )

    assert run.status == "requires_action", run.last_error
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)

    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18 C and sunny"}],
    )

    assert done.status == "completed", done.last_error
    assert answer(client, done).strip()


def test_an_assistant_with_file_search_searches_then_answers_from_the_model(
    client: openai.OpenAI, local_model: Emulator
) -> None:
    upload = ("foods.txt", b"Filip's favorite food is cake. Anna likes soup.")
    file = client.files.create(file=upload, purpose="assistants")
    store = client.vector_stores.create(file_ids=[file.id])
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        instructions="You are a helpful assistant. Answer in one short sentence.",
        temperature=0,
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )

    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "What is Filip's favorite food?"}]},
    )

    assert run.status == "completed", run.last_error
    steps = client.beta.threads.runs.steps.list(run_id=run.id, thread_id=run.thread_id, order="asc")
    search = steps.data[0].step_details
    assert search.type == "tool_calls" and search.tool_calls[0].type == "file_search"
    assert answer(client, run).strip()  # whether the small model cites is up to it
