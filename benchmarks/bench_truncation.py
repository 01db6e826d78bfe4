"""How token counting and truncation scale with the thread: `python -m benchmarks.bench_truncation`.

Measured in one process:

- the first-use cost of each bundled encoding (caches cleared first: read, verify, parse);
- runs on threads of 100, 1,000 and 10,000 messages. Threads are built directly with
  `emu.backend.add_message` (fast, no HTTP); runs are timed through the SDK, as users run them:
  `runs.create_and_poll` on a default client intercepted by the emulator (one POST, one GET).
  The first run on a thread reads and counts the messages its walk reaches (the beginning and
  the newest that fit: about half of the 10,000-message thread); it is timed on FIRST_RUNS
  threads of each size, the counts cached by earlier threads forgotten first. Each repeated
  run follows a new user message, so it pays for what changed (two messages), not for the
  thread;
- for comparison, `truncate()` over the same thread as a plain list (no index): it walks and
  rebuilds every visible message each time.

`measure()` returns the figures as a dict (used by `benchmarks/run.py`); `__main__` prints them.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_truncation.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai

from emulator import Emulator
from emulator.engine.thread_prompt import prompt_message
from emulator.engine.tokens import counter_for_encoding, fixed_prompt_tokens, load_encoding
from emulator.engine.truncation import truncate
from emulator.wire.requests import CreateThread

SIZES = (100, 1_000, 10_000)
FIRST_RUNS = 5
REPEATS = 9
ENCODINGS = ("o200k_base", "cl100k_base")
MODEL = "gpt-4o"  # 128,000-token window: a 10,000-message thread does not fit, 1,000 does
ENCODING = "o200k_base"  # MODEL's
SENTENCES = (
    "Could you check the weather in {city} for the weekend, please?",
    "Sure: in {city} it will be sunny on Saturday and rainy on Sunday, around 18 C.",
    "Thanks! What should I pack for three days in {city} then?",
    "Pack a light jacket, an umbrella and comfortable shoes for {city}.",
)
CITIES = ("Paris", "Lyon", "Zürich", "Kraków", "Napoli", "Sevilla", "Porto", "Gent")


def _text(i: int) -> str:
    """A distinct message of about 20 tokens, so nothing is counted from another's cache."""
    return f"#{i} " + SENTENCES[i % len(SENTENCES)].format(city=CITIES[i % len(CITIES)])


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` takes, with the garbage collector paused (as timeit does)."""
    gc.disable()
    try:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started
    finally:
        gc.enable()


def measure_encoding_loads() -> dict[str, float]:
    """Milliseconds to load each bundled encoding from scratch (its caches cleared first)."""
    loads: dict[str, float] = {}
    for name in ENCODINGS:
        load_encoding.cache_clear()
        counter_for_encoding.cache_clear()
        loads[name] = _ms(_timed(lambda: load_encoding(name)))  # noqa: B023 (called at once)
    return loads


def _build_thread(emu: Emulator, size: int) -> str:
    """A thread of ``size`` alternating user/assistant messages, the newest from the user."""
    backend = emu.backend
    with backend.lock:
        thread_id: str = backend.scoped(None).threads.create(CreateThread())["id"]
    with backend.lock:
        for i in range(size):
            role = "user" if (size - i) % 2 == 1 else "assistant"
            backend.add_message(thread_id, {"role": role, "content": _text(i)})
    return thread_id


def measure_thread(
    emu: Emulator, client: openai.OpenAI, assistant_id: str, size: int
) -> dict[str, Any]:
    """Times of the first run on FIRST_RUNS threads of ``size`` messages, and of repeated runs
    on the last of them."""
    runs = client.beta.threads.runs

    def run_once() -> None:
        run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
        if run.status != "completed":
            raise RuntimeError(f"unexpected run status {run.status}")
        done.append(run)

    done: list[Any] = []
    firsts = []
    for _ in range(FIRST_RUNS):
        thread_id = _build_thread(emu, size)
        counter_for_encoding(ENCODING).forget()  # as if these texts were new
        firsts.append(_timed(run_once))
    repeats = []
    for n in range(REPEATS):
        client.beta.threads.messages.create(thread_id=thread_id, role="user", content=f"And {n}?")
        repeats.append(_timed(run_once))
    run = done[-1]
    (report,) = emu.truncation(run.id)

    with emu.backend.lock:  # the same truncation over a plain list, without the index
        messages = emu.backend.store.messages[thread_id]
        plain = [prompt_message(m) for m in messages.values()[:-1]]  # before the reply
    counter = counter_for_encoding(ENCODING)
    fixed = fixed_prompt_tokens(counter, run.instructions or "", [])

    def truncate_plain() -> None:
        again = truncate(plain, counter=counter, budget=report.budget, fixed_tokens=fixed)
        if again.prompt_tokens != report.prompt_tokens:
            raise RuntimeError("the plain truncation disagrees with the run's")

    plain_times = [_timed(truncate_plain) for _ in range(REPEATS)]

    return {
        "first_run_ms": _ms(statistics.median(firsts)),
        "first_run_min_ms": _ms(min(firsts)),
        "repeat_run_ms": _ms(statistics.median(repeats)),
        "repeat_run_min_ms": _ms(min(repeats)),
        "repeat_cheaper": statistics.median(repeats) < statistics.median(firsts),
        "truncate_plain_list_ms": _ms(statistics.median(plain_times)),
        "visible_messages": len(report.visible),
        "dropped_messages": len(report.dropped_ids),
        "prompt_tokens": report.prompt_tokens,
    }


def measure() -> dict[str, Any]:
    """Every figure of this benchmark, as a JSON-ready dict (milliseconds, counts)."""
    started = time.perf_counter()
    figures: dict[str, Any] = {
        "method": "threads built via emu.backend.add_message; runs timed through the SDK "
        f"(runs.create_and_poll, model {MODEL}); first = median (and min) of {FIRST_RUNS} "
        f"threads; repeat = median (and min) of {REPEATS} runs, each after one new user "
        "message; GC paused while timing",
        "encoding_load_ms": measure_encoding_loads(),
    }
    with Emulator() as emu:
        client = openai.OpenAI(api_key="sk-bench")
        assistant = client.beta.assistants.create(model=MODEL, instructions="Answer briefly.")
        client.beta.threads.create_and_run_poll(  # warm up: SDK, routes, counter
            assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        figures["threads"] = {
            f"{size}_messages": measure_thread(emu, client, assistant.id, size) for size in SIZES
        }
    figures["total_seconds"] = round(time.perf_counter() - started, 3)
    return figures


def render(figures: dict[str, Any]) -> str:
    """The figures as a small table."""
    lines = [f"truncation benchmark: {figures['method']}", "", "encoding first load (ms)"]
    lines += [f"  {name:<14}{ms:>10.1f}" for name, ms in figures["encoding_load_ms"].items()]
    columns = (
        "first_run_ms",
        "first_run_min_ms",
        "repeat_run_ms",
        "repeat_run_min_ms",
        "truncate_plain_list_ms",
        "visible_messages",
    )
    header = f"{'thread':<16}" + "".join(f"{c:>24}" for c in columns)
    lines += ["", header]
    for name, row in figures["threads"].items():
        cells = "".join(
            f"{row[c]:>24.2f}" if isinstance(row[c], float) else f"{row[c]:>24}" for c in columns
        )
        lines.append(f"{name:<16}{cells}")
    cheaper = all(row["repeat_cheaper"] for row in figures["threads"].values())
    lines += ["", f"repeated runs cheaper than the first: {cheaper}"]
    lines.append(f"total: {figures['total_seconds']:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(measure()))
