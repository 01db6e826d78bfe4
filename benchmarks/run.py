"""Speed and memory of the emulator, measured in one process: `python -m benchmarks.run`.

(a) The text, tool-call and streamed SDK workflows answered by the emulator as users run it
    (default client, intercepted), divided by the same SDK calls answered by a `MockTransport`
    replaying the emulator's own bodies: the SDK's own cost (`benchmarks/bench_workflows.py`).
(b) What the pytest plugin costs: importing it, and the fixture per test under real pytest
    (`benchmarks/bench_fixture.py`).
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
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/run.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from benchmarks import bench_workflows
from benchmarks.bench_workflows import HTTP
from emulator import Emulator
from emulator.wire.requests import CreateMessage, CreateThread

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
    m = results["memory"]
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
        *bench_workflows.render(results["workflows"]),
    ]
    lines += _figures("(b) plugin import and fixture", results["fixture"])
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
    parser.add_argument("--iterations", type=int, default=500, help="runs of each workflow")
    parser.add_argument("--messages", type=int, default=100_000, help="messages for (d)")
    parser.add_argument(
        "--profile",
        choices=list(bench_workflows.WORKFLOWS),
        help="only cProfile this workflow on the emulator",
    )
    parser.add_argument(
        "--load", action="store_true", help="also load the real server (benchmarks/load.py)"
    )
    args = parser.parse_args(argv)
    if args.profile:
        bench_workflows.profile(args.profile, args.iterations)
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
    }
    # Truncation first: it measures the encodings' first-use cost, before anything loads them.
    results["truncation"] = measure_module("bench_truncation")
    results["fixture"] = measure_module("bench_fixture")
    results["workflows"] = bench_workflows.measure(args.iterations)
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
