"""SDK workflows, emulator against the SDK's own floor: `python -m benchmarks.bench_workflows`.

Three workflows, as most tests write them:

- text: create an assistant, a thread and a message, `runs.create_and_poll`, list the messages;
- tool call: the same with a function tool the run calls (`requires_action`), then
  `runs.submit_tool_outputs_and_poll` with its output;
- streamed: the text workflow with `runs.stream(...)` read to its end instead of polling.

Each is timed three ways in one process, calls interleaved so that machine load hits all:

- *floor*: the same SDK calls answered by a `MockTransport` that replays, in order, the bodies
  the emulator gave for that workflow (recorded once first). All its cost is the SDK's own.
- *emulator*: a default client, intercepted (what users run).
- *core*: the emulator reached through a `MockTransport` instead of interception (so the
  interception's own cost is the difference from *emulator*).

`measure()` returns the figures as a dict (used by `benchmarks/run.py`); `__main__` prints them.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_workflows.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from emulator import Emulator
from emulator.http.headers import RawHeaders

API_KEY = "sk-bench"
TARGET_RATIO = 1.2
SDK_MAJOR = int(openai.__version__.split(".")[0])
HTTP = importlib.import_module("httpx2" if SDK_MAJOR >= 3 else "httpx")  # what the SDK sends with
# Hosts no emulator owns: respx (openai 2.x) intercepts every httpx client, custom transports
# included, so the floor and core clients must not use the emulator's base URL.
OFF_EMULATOR_URL = "http://bench.invalid/v1"
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather"}}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}

Answer = tuple[int, dict[str, str], bytes]


# --- the workflows ----------------------------------------------------------------------------


def text(client: openai.OpenAI) -> None:
    """One assistant, one thread, one message, one polled run, one list (6 requests)."""
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Answer briefly.")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Hello!")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    _expect(run.status == "completed" and len(messages.data) == 2, run.status)


def tool_call(client: openai.OpenAI) -> None:
    """The text workflow through a function call: `requires_action`, outputs, an answer (8)."""
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[WEATHER_TOOL])
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Paris?")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, tool_choice=FORCE_WEATHER
    )
    _expect(run.status == "requires_action", run.status)
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18 C"}],
    )
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    _expect(run.status == "completed" and len(messages.data) == 2, run.status)


def streamed(client: openai.OpenAI) -> None:
    """The text workflow with the run streamed to its end (5 requests, 10 events)."""
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Answer briefly.")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Hello!")
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        run = stream.get_final_run()
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    _expect(run.status == "completed" and len(messages.data) == 2, run.status)


WORKFLOWS: dict[str, Callable[[openai.OpenAI], None]] = {
    "text": text,
    "tool_call": tool_call,
    "streamed": streamed,
}


def _expect(ok: bool, status: str) -> None:
    if not ok:
        raise RuntimeError(f"unexpected workflow result (run {status})")


# --- the three clients ------------------------------------------------------------------------


def sdk_client(handler: Callable[[Any], Any]) -> openai.OpenAI:
    """A client with the SDK's default httpx settings and a `MockTransport` as its network."""
    http_client = openai.DefaultHttpxClient(transport=HTTP.MockTransport(handler))
    return openai.OpenAI(api_key=API_KEY, base_url=OFF_EMULATOR_URL, http_client=http_client)


def _answer(emulator: Emulator, request: Any) -> Answer:
    """The emulator's rendered answer to a request for `OFF_EMULATOR_URL` (streams read whole),
    the request made as the interception adapters make it."""
    pipeline = emulator.pipeline
    url = str(request.url).replace(OFF_EMULATOR_URL, pipeline.base_urls[0], 1)
    headers = RawHeaders.of(request.headers)
    reply = pipeline.handle(
        pipeline.request(request.method, url, headers, request.read(), lowered=True)
    )
    return reply.status, reply.headers, reply.content


def record(workflow: Callable[[openai.OpenAI], None]) -> list[tuple[str, Answer]]:
    """The emulator's answers to one run of `workflow`, in order, each with its request line."""
    emulator = Emulator()  # not started: reached only through this transport
    answers: list[tuple[str, Answer]] = []

    def forward(request: Any) -> Any:
        answer = _answer(emulator, request)
        answers.append((f"{request.method} {request.url.path}", answer))
        return HTTP.Response(answer[0], headers=answer[1], content=answer[2])

    with sdk_client(forward) as client:
        workflow(client)
    return answers


def floor_client(answers: list[tuple[str, Answer]]) -> openai.OpenAI:
    """The floor: the recorded bodies replayed in order, so all remaining cost is the SDK's."""
    position = 0

    def replay(request: Any) -> Any:
        nonlocal position
        line, (status, headers, body) = answers[position % len(answers)]
        position += 1
        method, _, path = line.partition(" ")
        if request.method != method or len(request.url.path) != len(path):
            raise RuntimeError(f"the floor replays {line}, the SDK sent {request.method} ...")
        return HTTP.Response(status, headers=headers, content=body)

    return sdk_client(replay)


def core_client(emulator: Emulator) -> openai.OpenAI:
    """The emulator reached through a `MockTransport`: its cost without interception."""

    def answer(request: Any) -> Any:
        status, headers, body = _answer(emulator, request)
        return HTTP.Response(status, headers=headers, content=body)

    return sdk_client(answer)


# --- timing -----------------------------------------------------------------------------------


def time_interleaved(
    paths: dict[str, Callable[[], None]],
    iterations: int,
    every_100: Callable[[], None] = lambda: None,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds per call of each path, calls alternating so that load on the machine hits all,
    and how many of each path's calls a garbage collection ran in.

    Iteration `i` calls every path once, starting at a rotating position (no path always goes
    first); `every_100` runs between blocks of 100 iterations.
    """
    names = list(paths)
    samples: dict[str, list[float]] = {name: [] for name in names}
    collected = dict.fromkeys(names, 0)
    collections = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        collections[0] += phase == "start"

    for fn in paths.values():  # warm up caches, encodings and the SDK's lazy imports
        for _ in range(20):
            fn()
    every_100()
    gc.callbacks.append(count)
    try:
        for i in range(iterations):
            if i and i % 100 == 0:
                every_100()
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                fn = paths[name]
                collections[0] = 0
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
                collected[name] += collections[0] > 0
    finally:
        gc.callbacks.remove(count)
    return samples, collected


def check_and_reset(*emulators: Emulator) -> None:
    """Fail on broken state, then start empty: like a test, each round sees a fresh emulator."""
    for emulator in emulators:
        problems = emulator.check_invariants()
        if problems:
            raise RuntimeError(f"state broke during the benchmark: {problems}")
        emulator.reset()


def measure_one(workflow: Callable[[openai.OpenAI], None], iterations: int) -> dict[str, Any]:
    """Floor, emulator and core medians of one workflow, and their ratios."""
    answers = record(workflow)
    core_emulator = Emulator()
    with (
        Emulator() as emulator,
        openai.OpenAI(api_key=API_KEY) as intercepted,
        floor_client(answers) as floor,
        core_client(core_emulator) as core,
    ):
        samples, collected = time_interleaved(
            {
                "floor": lambda: workflow(floor),
                "emulator": lambda: workflow(intercepted),
                "core": lambda: workflow(core),
            },
            iterations,
            every_100=lambda: check_and_reset(emulator, core_emulator),
        )
        check_and_reset(emulator, core_emulator)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    paired = [e / f for e, f in zip(samples["emulator"], samples["floor"], strict=True)]
    return {
        "requests": len(answers),
        "floor_ms": medians["floor"] * 1e3,
        "emulator_ms": medians["emulator"] * 1e3,
        "core_ms": medians["core"] * 1e3,
        "ratio": medians["emulator"] / medians["floor"],
        "core_ratio": medians["core"] / medians["floor"],
        "paired_ratio": statistics.median(paired),
        "with_collection": {name: n / iterations for name, n in collected.items()},
    }


def measure(iterations: int = 500) -> dict[str, Any]:
    """Every workflow's figures, by name, with the target they are held to."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the Assistants API's own warning
        figures = {name: measure_one(fn, iterations) for name, fn in WORKFLOWS.items()}
    return {"iterations": iterations, "target_ratio": TARGET_RATIO, **figures}


def profile(name: str, iterations: int, top: int = 30) -> None:
    """cProfile one workflow on the intercepted client and print the costliest functions."""
    import cProfile
    import pstats

    workflow = WORKFLOWS[name]
    with (
        warnings.catch_warnings(),
        Emulator() as emulator,
        openai.OpenAI(api_key=API_KEY) as client,
    ):
        warnings.simplefilter("ignore", DeprecationWarning)
        for _ in range(20):
            workflow(client)
        profiler = cProfile.Profile()
        profiler.enable()
        for n in range(iterations):
            if n % 100 == 0:
                emulator.reset()
            workflow(client)
        profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def render(figures: dict[str, Any]) -> list[str]:
    """The workflow rows of the benchmark table."""
    target = figures["target_ratio"]
    lines = [f"(a) SDK workflows, median of {figures['iterations']} each (target <= {target}x)"]
    for name in WORKFLOWS:
        w = figures[name]
        verdict = "meets" if w["ratio"] <= target else "MISSES"
        lines += [
            f"  {name} ({w['requests']} requests)",
            f"{'    floor: SDK + replayed bodies':<52}{w['floor_ms']:>11.3f} ms",
            f"{'    emulator, default client intercepted':<52}{w['emulator_ms']:>11.3f} ms",
            f"{'    emulator core via MockTransport':<52}{w['core_ms']:>11.3f} ms",
            f"{'    ratio emulator / floor':<52}{w['ratio']:>12.2f} x  {verdict}",
            f"{'    ratio core / floor':<52}{w['core_ratio']:>12.2f} x",
            f"{'    median of per-iteration ratios':<52}{w['paired_ratio']:>12.2f} x",
            f"{'    workflows a garbage collection ran in':<52}"
            + ", ".join(f"{name} {share:.0%}" for name, share in w["with_collection"].items()),
        ]
    return lines


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--profile", choices=list(WORKFLOWS), help="cProfile one workflow")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.iterations)
    else:
        print("\n".join(render(measure(args.iterations))))
