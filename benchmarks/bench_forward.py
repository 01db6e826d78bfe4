"""The emulator's own cost per forwarded turn: `python -m benchmarks.bench_forward`.

The upstream is a zero-latency fake (an `httpx.MockTransport` handing back a prebuilt body), so
what is timed is the forwarding itself: building the request from the `RunContext`, encoding
it, the httpx transport round, decoding the answer and mapping it to a reply. Contexts are
real ones, taken from runs on a 20-message thread with two function tools:

- `text_turn_ms`: a first turn answered with text;
- `tool_turn_ms`: a first turn answered with two parallel tool calls;
- `after_outputs_ms`: the turn after those outputs (the history carries the tool round);
- `in_run_ms`: the same forwarded text turn timed inside the engine, during runs through the
  SDK (median), as a cross-check that nothing around the call adds to it.

`measure()` returns the figures as a dict (for `benchmarks/run.py`); `__main__` prints them.
The target is under 1 ms per turn (issue 17).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_forward.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import openai

from emulator import Emulator, RunContext, reply
from emulator.engine.forward import Forward, forward

TARGET_MS = 1.0
URL = "http://upstream.invalid/v1"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "get_time"}},
]
TEXT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "It is sunny in Paris, 21 C."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 310, "completion_tokens": 9, "total_tokens": 319},
}
CALLS = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_up_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_up_2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}


def zero_latency(answer: dict[str, Any]) -> Forward:
    """A forward responder whose upstream answers `answer` at once."""
    content = json.dumps(answer).encode()
    headers = {"content-type": "application/json"}

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=content)

    return forward(URL, transport=httpx.MockTransport(handle))


def contexts() -> dict[str, RunContext]:
    """Real contexts of a first turn and of the turn after two parallel tool outputs."""
    seen: list[RunContext] = []

    def record(context: RunContext) -> reply.Reply:
        seen.append(context)
        if context.new_tool_outputs:
            return reply.text("Sunny.")
        return reply.tool_calls(
            reply.call("get_weather", {"city": "Paris"}, id="call_up_1"),
            reply.call("get_time", id="call_up_2"),
        )

    with Emulator(responder=record) as emu, openai.OpenAI(api_key="sk-bench") as client:
        del emu
        assistant = client.beta.assistants.create(
            model="gpt-4o", instructions="Answer briefly.", tools=TOOLS
        )
        thread = client.beta.threads.create(messages=_history(20))
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert run.required_action is not None
        client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[
                {"tool_call_id": c.id, "output": "sunny, 21 C"}
                for c in run.required_action.submit_tool_outputs.tool_calls
            ],
        )
    first, after = seen
    return {"first": first, "after_outputs": after}


def _history(n: int) -> list[Any]:
    return [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"Message {i}: what about the weather in Paris this weekend, and the time?",
        }
        for i in range(n)
    ]


def _per_call_ms(action: Callable[[], object], calls: int, repeats: int = 7) -> float:
    """Median over `repeats` of the mean time per call, in ms."""
    action()  # warm up
    samples = []
    for _ in range(repeats):
        gc.disable()
        start = time.perf_counter()
        for _ in range(calls):
            action()
        samples.append((time.perf_counter() - start) / calls)
        gc.enable()
    return round(statistics.median(samples) * 1000, 4)


def _in_run_ms(runs: int) -> float:
    """Mean time of the forward call inside the engine, over runs through the SDK (a fresh
    20-message thread each), timed around the responder as the engine calls it."""
    responder = zero_latency(TEXT)
    spent: list[float] = []

    def timed(context: RunContext) -> reply.Reply:
        start = time.perf_counter()
        answer = responder(context)
        spent.append(time.perf_counter() - start)
        return answer

    with Emulator(responder=timed), openai.OpenAI(api_key="sk-bench") as client:
        assistant = client.beta.assistants.create(
            model="gpt-4o", instructions="Answer briefly.", tools=TOOLS
        )
        for _ in range(runs + 1):
            client.beta.threads.create_and_run_poll(
                assistant_id=assistant.id, thread={"messages": _history(20)}
            )
    return round(statistics.median(spent[1:]) * 1000, 4)


def measure(calls: int = 2_000, runs: int = 100) -> dict[str, Any]:
    """The figures described in the module docstring."""
    found = contexts()
    text, calls_turn = zero_latency(TEXT), zero_latency(CALLS)
    figures: dict[str, Any] = {
        "text_turn_ms": _per_call_ms(lambda: text(found["first"]), calls),
        "tool_turn_ms": _per_call_ms(lambda: calls_turn(found["first"]), calls),
        "after_outputs_ms": _per_call_ms(lambda: text(found["after_outputs"]), calls),
        "in_run_ms": _in_run_ms(runs),
        "target_ms": TARGET_MS,
    }
    worst = max(
        figures[key] for key in ("text_turn_ms", "tool_turn_ms", "after_outputs_ms", "in_run_ms")
    )
    figures["within_target"] = worst < TARGET_MS
    return figures


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the Assistants API's own
    for key, value in measure().items():
        print(f"{key:>18}: {value}")
