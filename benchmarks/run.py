"""Speed and memory of the emulator, measured in one process: `python -m benchmarks.run`.

(a) A typical SDK workflow (create assistant, thread, message, `create_and_poll`, list messages)
    answered by the emulator as users run it (default client, intercepted), divided by the same
    SDK calls answered by a bare `MockTransport` replaying canned bodies: the SDK's own cost.
(b) Fixture setup and teardown per test: `Emulator()` construction, `start()` and `stop()`.
(c) Truncation figures, from `benchmarks/bench_truncation.py`.
(d) Peak memory (tracemalloc) while 100,000 messages are stored.
(e) Retrieval: ingesting 1 MB of text against tiktoken's own encode, and a search over 1,000
    chunks (`benchmarks/bench_retrieval.py`).
(f) The forwarding responder's own cost per turn against a zero-latency upstream
    (`benchmarks/bench_forward.py`).
(g) With `--load`: the real server under 20 concurrent clients (`benchmarks/load.py`).

Prints a table and writes JSON (`--out`, default `benchmarks/results.json`, gitignored).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/run.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from emulator import Emulator
from emulator.http.pipeline import Request
from emulator.pytest_plugin import build_emulator
from emulator.wire.requests import CreateMessage, CreateThread

API_KEY = "sk-bench"
TARGET_RATIO = 1.5
SDK_MAJOR = int(openai.__version__.split(".")[0])
HTTP = importlib.import_module("httpx2" if SDK_MAJOR >= 3 else "httpx")  # what the SDK sends with

Canned = dict[tuple[str, ...], tuple[int, dict[str, str], bytes]]


# --- (a) SDK workflow: emulator vs. the SDK's own floor ---------------------------------------


def workflow(client: openai.OpenAI) -> None:
    """The calls most tests make: one assistant, one thread, one message, one run, one list."""
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Answer briefly.")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Hello!")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    messages = client.beta.threads.messages.list(thread_id=thread.id)
    if run.status != "completed" or len(messages.data) != 2:
        raise RuntimeError(f"unexpected workflow result: {run.status}, {len(messages.data)}")


def route_key(method: str, path: str) -> tuple[str, ...]:
    """`POST /v1/threads/thread_x/runs` -> `("POST", "threads", "*", "runs")`."""
    parts = path.split("/")[2:]
    return (method, *(part if n % 2 == 0 else "*" for n, part in enumerate(parts)))


# Hosts no emulator owns: respx (openai 2.x) intercepts every httpx client, custom transports
# included, so the floor and core clients must not use the emulator's base URL.
OFF_EMULATOR_URL = "http://bench.invalid/v1"


def sdk_client(handler: Callable[[Any], Any]) -> openai.OpenAI:
    """A client with the SDK's default httpx settings and a `MockTransport` as its network."""
    http_client = openai.DefaultHttpxClient(transport=HTTP.MockTransport(handler))
    return openai.OpenAI(api_key=API_KEY, base_url=OFF_EMULATOR_URL, http_client=http_client)


def _handle(emulator: Emulator, request: Any) -> Any:
    """Hand a request for `OFF_EMULATOR_URL` to the emulator's core, as its API path."""
    path = request.url.path.removeprefix("/v1")
    query = list(request.url.params.multi_items())
    headers = {k.lower(): v for k, v in request.headers.items()}
    return emulator.pipeline.handle(Request(request.method, path, query, headers, request.read()))


def record_canned() -> Canned:
    """The emulator's rendered answers to one workflow, by route: the floor replays them."""
    emulator = Emulator()  # not started: reached only through this transport
    canned: Canned = {}

    def forward(request: Any) -> Any:
        answer = _handle(emulator, request)
        key = route_key(request.method, request.url.path)
        canned[key] = (answer.status, answer.headers, answer.content)
        return HTTP.Response(answer.status, headers=answer.headers, content=answer.content)

    with sdk_client(forward) as client:
        workflow(client)
    return canned


def floor_client(canned: Canned) -> openai.OpenAI:
    """The floor: constant pre-rendered bodies, so all remaining cost is the SDK's."""

    def answer(request: Any) -> Any:
        status, headers, body = canned[route_key(request.method, request.url.path)]
        return HTTP.Response(status, headers=headers, content=body)

    return sdk_client(answer)


def core_client(emulator: Emulator) -> openai.OpenAI:
    """The emulator reached through a `MockTransport`: its core cost without interception."""

    def answer(request: Any) -> Any:
        reply = _handle(emulator, request)
        return HTTP.Response(reply.status, headers=reply.headers, content=reply.content)

    return sdk_client(answer)


def time_interleaved(
    paths: dict[str, Callable[[], None]],
    iterations: int,
    every_100: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Seconds per call of each path, calls alternating so that load on the machine hits all.

    Iteration `i` calls every path once, starting at a rotating position (no path always goes
    first); `every_100` runs between blocks of 100 iterations.
    """
    names = list(paths)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for fn in paths.values():  # warm up caches, encodings and the SDK's lazy imports
        for _ in range(20):
            fn()
    every_100()
    for i in range(iterations):
        if i and i % 100 == 0:
            every_100()
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            fn = paths[name]
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def check_and_reset(*emulators: Emulator) -> None:
    """Fail on broken state, then start empty: like a test, each round sees a fresh emulator."""
    for emulator in emulators:
        problems = emulator.check_invariants()
        if problems:
            raise RuntimeError(f"state broke during the benchmark: {problems}")
        emulator.reset()


def measure_workflow(iterations: int) -> dict[str, Any]:
    canned = record_canned()
    with Emulator() as emulator, openai.OpenAI(api_key=API_KEY) as intercepted:
        core_emulator = Emulator()
        with floor_client(canned) as floor, core_client(core_emulator) as core:
            samples = time_interleaved(
                {
                    "floor": lambda: workflow(floor),
                    "emulator": lambda: workflow(intercepted),
                    "emulator_core": lambda: workflow(core),
                },
                iterations,
                every_100=lambda: check_and_reset(emulator, core_emulator),
            )
        check_and_reset(emulator, core_emulator)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    paired = [e / f for e, f in zip(samples["emulator"], samples["floor"], strict=True)]
    return {
        "iterations": iterations,
        "requests_per_workflow": 6,
        "distinct_routes": len(canned),
        "floor_ms": medians["floor"] * 1e3,
        "emulator_ms": medians["emulator"] * 1e3,
        "emulator_core_ms": medians["emulator_core"] * 1e3,
        "ratio": medians["emulator"] / medians["floor"],
        "core_ratio": medians["emulator_core"] / medians["floor"],
        "paired_ratio": statistics.median(paired),
        "target_ratio": TARGET_RATIO,
    }


def profile_workflow(iterations: int, top: int = 30) -> None:
    """cProfile the intercepted workflow and print the costliest functions (`--profile`)."""
    import cProfile
    import pstats

    with Emulator() as emulator, openai.OpenAI(api_key=API_KEY) as client:
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


# --- (b) fixture setup and teardown -----------------------------------------------------------


def measure_fixture(iterations: int) -> dict[str, Any]:
    """What the `assistants_emulator` fixture costs each test: build, start, stop."""

    def setup_and_teardown() -> None:
        emulator = build_emulator({})
        with emulator:
            pass

    start = time.perf_counter()
    setup_and_teardown()
    first = time.perf_counter() - start
    construct: list[float] = []
    start_stop: list[float] = []
    total: list[float] = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        emulator = build_emulator({})
        t1 = time.perf_counter()
        emulator.start()
        emulator.stop()
        t2 = time.perf_counter()
        construct.append(t1 - t0)
        start_stop.append(t2 - t1)
        total.append(t2 - t0)
    return {
        "iterations": iterations,
        "first_ms": first * 1e3,
        "construct_ms": statistics.median(construct) * 1e3,
        "start_stop_ms": statistics.median(start_stop) * 1e3,
        "total_ms": statistics.median(total) * 1e3,
    }


# --- (c) truncation ---------------------------------------------------------------------------


def measure_module(name: str) -> dict[str, Any]:
    """Figures from `benchmarks/<name>.py`'s `measure()`, or why there are none."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ImportError as error:
        return {"available": False, "note": f"benchmarks/{name}.py not found ({error})"}
    figures: dict[str, Any] = module.measure()
    return {"available": True, **figures}


# --- (d) memory -------------------------------------------------------------------------------


def measure_memory(messages: int, per_thread: int = 1_000) -> dict[str, Any]:
    """Peak traced memory while `messages` user messages are stored (in threads of 1,000)."""
    emulator = Emulator()
    backend = emulator.backend.scoped(None)
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    for t in range(-(-messages // per_thread)):
        thread = backend.threads.create(CreateThread())
        for n in range(min(per_thread, messages - t * per_thread)):
            text = f"Message {t}-{n}: what is the weather like in Paris today?"
            backend.messages.create(
                thread["id"], CreateMessage.model_validate({"role": "user", "content": text})
            )
    elapsed = time.perf_counter() - start
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stored = emulator.backend.counts()["messages"]
    if stored != messages:
        raise RuntimeError(f"stored {stored} messages, expected {messages}")
    return {
        "messages": messages,
        "threads": emulator.backend.counts()["threads"],
        "peak_mb": (peak - baseline) / 2**20,
        "retained_mb": (current - baseline) / 2**20,
        "bytes_per_message": (current - baseline) / messages,
        "fill_seconds_traced": elapsed,
    }


# --- report -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str]:
    import pydantic

    return {
        "openai": openai.__version__,
        HTTP.__name__: HTTP.__version__,
        "pydantic": pydantic.VERSION,
    }


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), item)
        return rows
    return [(prefix, value)]


def _figures(title: str, figures: dict[str, Any]) -> list[str]:
    """A section of figures from one of the `bench_*` modules, one row per number."""
    lines = [title]
    if not figures.get("available"):
        return [*lines, f"  not measured: {figures['note']}"]
    for key, value in _flatten("", {k: v for k, v in figures.items() if k != "available"}):
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        if len(shown) > 14:  # a note, not a figure
            lines.append(f"  {key}: {shown}")
        else:
            lines.append(f"  {key:<50}{shown:>14}")
    return lines


def render_table(results: dict[str, Any]) -> str:
    w = results["workflow"]
    f = results["fixture"]
    m = results["memory"]
    verdict = "meets" if w["ratio"] <= TARGET_RATIO else "MISSES"
    load = results["machine"]["load_average_1m"]
    load = "n/a" if load is None else f"{load:.2f}"
    lines = [
        f"Assistants emulator benchmark, {results['date']}",
        f"{results['machine']['platform']}, Python {results['machine']['python']}, "
        f"{results['machine']['cpu_count']} CPUs (load {load}); "
        + ", ".join(f"{k} {v}" for k, v in results["versions"].items()),
        "",
        f"{'figure':<52}{'value':>14}",
        "-" * 66,
        "(a) SDK workflow, median of " + f"{w['iterations']} (6 requests each)",
        f"{'  floor: SDK + canned MockTransport':<52}{w['floor_ms']:>11.3f} ms",
        f"{'  emulator, default client intercepted':<52}{w['emulator_ms']:>11.3f} ms",
        f"{'  emulator core via MockTransport':<52}{w['emulator_core_ms']:>11.3f} ms",
        f"{'  ratio emulator / floor':<52}{w['ratio']:>12.2f} x",
        f"{'  ratio emulator core / floor':<52}{w['core_ratio']:>12.2f} x",
        f"{'  median of per-iteration ratios emulator / floor':<52}{w['paired_ratio']:>12.2f} x",
        f"  target <= {TARGET_RATIO}x: {verdict}",
        f"(b) fixture per test, median of {f['iterations']}",
        f"{'  Emulator() construction':<52}{f['construct_ms']:>11.3f} ms",
        f"{'  start() + stop()':<52}{f['start_stop_ms']:>11.3f} ms",
        f"{'  setup + teardown':<52}{f['total_ms']:>11.3f} ms",
        f"{'  first setup + teardown in the process':<52}{f['first_ms']:>11.3f} ms",
    ]
    lines += _figures("(c) truncation", results["truncation"])
    lines += [
        f"(d) memory, {m['messages']:,} messages in {m['threads']:,} threads (tracemalloc)",
        f"{'  peak':<52}{m['peak_mb']:>11.1f} MB",
        f"{'  retained':<52}{m['retained_mb']:>11.1f} MB",
        f"{'  per message':<52}{m['bytes_per_message']:>12.0f} B",
    ]
    lines += _figures("(e) retrieval", results["retrieval"])
    lines += _figures("(f) forwarding responder, per turn", results["forward"])
    lines += [
        "-" * 66,
        f"benchmark wall time {results['wall_seconds']:.1f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument("--iterations", type=int, default=1_000, help="workflows per path")
    parser.add_argument("--fixtures", type=int, default=300, help="fixture cycles")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for (d)")
    parser.add_argument(
        "--profile", action="store_true", help="only cProfile the emulator's workflow"
    )
    parser.add_argument(
        "--load", action="store_true", help="also load the real server (benchmarks/load.py)"
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile_workflow(args.iterations)
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
    }
    # Truncation first: it measures the encodings' first-use cost, before anything loads them.
    results["truncation"] = measure_module("bench_truncation")
    results["fixture"] = measure_fixture(args.fixtures)
    results["workflow"] = measure_workflow(args.iterations)
    results["memory"] = measure_memory(args.messages)
    results["retrieval"] = measure_module("bench_retrieval")
    results["forward"] = measure_module("bench_forward")
    if args.load:
        load = importlib.import_module("benchmarks.load")
        results["load"] = load.measure()
    results["wall_seconds"] = time.perf_counter() - started
    print(render_table(results))
    if args.load:
        print(load.render(results["load"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
