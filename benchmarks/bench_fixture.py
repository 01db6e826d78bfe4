"""What the pytest plugin costs a test session: `python -m benchmarks.bench_fixture`.

pytest imports `emulator.pytest_plugin` (an entry point) in every session of every project that
installed the package, and the `assistants_emulator` fixture runs around every test that asks
for it. The targets (issue 12): importing the plugin adds at most 0.1 s to a session and imports
nothing heavy; the fixture's setup plus teardown is at most 0.5 ms per test.

- `plugin_import`: fresh interpreters importing the plugin, against `python -c pass` and against
  `import pytest` (pytest has always been imported when it loads a plugin), median of several,
  wall and CPU time; the emulator's own modules' share by `-X importtime`; the heavy modules the
  import pulls in (none expected).
- `under_pytest`: generated files of N empty tests, taking the fixture, a do-nothing yield
  fixture (pytest's own cost of any fixture) or none, each run by `python -m pytest` in a
  subprocess. pytest times every test's setup and teardown: the fixture's cost per test is the
  median with the fixture minus without (`_cpu_ms`: the same for the CPU time of each whole
  test), and the first test's is what the first use costs (importing the emulator). Whole runs
  are timed too: (with - without) / N, which spreads that first use over the N tests.
- `in_process`: `build_emulator({})`, `start()` and `stop()` in this process, median.

Subprocesses run this checkout's `emulator` (on `PYTHONPATH`) with bytecode caching on (in a
temporary `PYTHONPYCACHEPREFIX`, after a warm-up run), as an installed package runs.
`measure()` returns the figures as a dict (for `benchmarks/run.py`); `__main__` prints them.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/bench_fixture.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TARGET_S = 0.1
FIXTURE_TARGET_MS = 0.5
HEAVY = ("pydantic", "httpx", "httpx2", "httpcore", "respx", "tiktoken", "openai", "uvicorn")
HEAVY += ("starlette", "anyio")
TESTS = 300
IMPORT_REPEATS = 9
PYTEST_REPEATS = 3
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "no:xdist")

HEAVY_PROBE = (
    "import json, sys, emulator.pytest_plugin; "
    f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r})))"
)

# Loaded by every generated test file: per test, pytest's own timing of setup plus teardown,
# and the CPU time of the whole test protocol (setup, call, teardown, reporting).
CONFTEST = """
import json, os, time
import pytest

TESTS = []

@pytest.fixture
def noop():
    yield None

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item):
    TESTS.append({"fixture": 0.0})
    start = time.process_time()
    yield
    TESTS[-1]["cpu"] = time.process_time() - start

def pytest_runtest_logreport(report):
    if report.when != "call":
        TESTS[-1]["fixture"] += report.duration

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_FIXTURE_OUT"], "w") as out:
        json.dump(TESTS, out)
"""


def _environment(pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU (user + system) seconds of a child process, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _interleaved(
    commands: dict[str, list[str]], env: dict[str, str], cwd: Path, repeats: int
) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each command, the commands taking turns."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, args in commands.items():
            wall, cpu, _ = _run(args, env, cwd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands
    }


def _emulator_import_ms(env: dict[str, str], cwd: Path) -> float:
    """Self time of the `emulator` modules the plugin import loads (`-X importtime`)."""
    args = [sys.executable, "-X", "importtime", "-c", "import emulator.pytest_plugin"]
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    total_us = 0
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[2].strip().split(".")[0] == "emulator":
            total_us += int(fields[0])
    return total_us / 1e3


def measure_plugin_import(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    python = sys.executable
    _run([python, "-c", "import emulator.pytest_plugin"], env, cwd)  # fills the bytecode cache
    times = _interleaved(
        {
            "bare": [python, "-c", "pass"],
            "pytest": [python, "-c", "import pytest"],
            "plugin": [python, "-c", "import emulator.pytest_plugin"],
        },
        env,
        cwd,
        IMPORT_REPEATS,
    )
    heavy = json.loads(_run([python, "-c", HEAVY_PROBE], env, cwd)[2])
    packages = sorted({module.split(".")[0] for module in heavy})
    (bare_wall, bare_cpu), (pytest_wall, pytest_cpu) = times["bare"], times["pytest"]
    plugin_wall, plugin_cpu = times["plugin"]
    return {
        "repeats": IMPORT_REPEATS,
        "above_bare_s": round(plugin_wall - bare_wall, 4),
        "above_bare_cpu_s": round(plugin_cpu - bare_cpu, 4),
        "above_pytest_s": round(plugin_wall - pytest_wall, 4),
        "above_pytest_cpu_s": round(plugin_cpu - pytest_cpu, 4),
        "pytest_above_bare_s": round(pytest_wall - bare_wall, 4),
        "emulator_modules_ms": round(_emulator_import_ms(env, cwd), 2),
        "heavy_packages": packages,
        "heavy_modules": len(heavy),
        "target_s": IMPORT_TARGET_S,
    }


def _write_tests(directory: Path, tests: int) -> None:
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "conftest.py").write_text(CONFTEST)
    files = {"with": "assistants_emulator", "noop": "noop", "without": ""}
    for name, parameters in files.items():
        body = "".join(f"def test_{n:04d}({parameters}):\n    pass\n\n\n" for n in range(tests))
        (directory / f"test_{name}.py").write_text(body)


def measure_under_pytest(env: dict[str, str], cwd: Path, tests: int) -> dict[str, Any]:
    _write_tests(cwd, tests)
    out = cwd / "tests.json"
    env = {**env, "BENCH_FIXTURE_OUT": str(out)}
    pytest = [sys.executable, "-m", "pytest", *PYTEST_ARGS]
    _run([*pytest, "test_with.py"], env, cwd)  # fills the bytecode cache

    names = ("with", "noop", "without")
    figures: dict[str, dict[str, list[float]]] = {
        figure: {name: [] for name in names}
        for figure in ("wall", "cpu", "first", "each", "test_cpu")
    }
    for _ in range(PYTEST_REPEATS):
        for name in names:
            wall, cpu, _ = _run([*pytest, f"test_{name}.py"], env, cwd)
            measured = json.loads(out.read_text())
            if len(measured) != tests:
                raise RuntimeError(f"expected {tests} tests, pytest reported {len(measured)}")
            figures["wall"][name].append(wall)
            figures["cpu"][name].append(cpu)
            figures["first"][name].append(measured[0]["fixture"])
            figures["each"][name].extend(test["fixture"] for test in measured[1:])
            figures["test_cpu"][name].extend(test["cpu"] for test in measured[1:])

    def more_ms(figure: str, name: str = "with", than: str = "without", per: int = 1) -> float:
        values = figures[figure]
        return round(
            (statistics.median(values[name]) - statistics.median(values[than])) * 1e3 / per, 3
        )

    return {
        "tests": tests,
        "repeats": PYTEST_REPEATS,
        "fixture_per_test_ms": more_ms("each"),
        "fixture_per_test_cpu_ms": more_ms("test_cpu"),
        "noop_fixture_per_test_ms": more_ms("each", name="noop"),
        "fixture_first_use_ms": more_ms("first"),
        "session_without_fixture_s": round(statistics.median(figures["wall"]["without"]), 3),
        "session_with_fixture_s": round(statistics.median(figures["wall"]["with"]), 3),
        "whole_run_per_test_ms": more_ms("wall", per=tests),
        "whole_run_per_test_cpu_ms": more_ms("cpu", per=tests),
        "target_ms": FIXTURE_TARGET_MS,
    }


def measure_in_process(iterations: int = 300) -> dict[str, Any]:
    from emulator.pytest_plugin import build_emulator

    with build_emulator({}):  # first use: imports, encodings
        pass
    construct: list[float] = []
    start_stop: list[float] = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        emulator = build_emulator({})
        t1 = time.perf_counter()
        emulator.start()
        emulator.stop()
        t2 = time.perf_counter()
        construct.append(t1 - t0)
        start_stop.append(t2 - t1)
    return {
        "iterations": iterations,
        "construct_ms": round(statistics.median(construct) * 1e3, 4),
        "start_stop_ms": round(statistics.median(start_stop) * 1e3, 4),
        "total_ms": round(
            statistics.median(map(sum, zip(construct, start_stop, strict=True))) * 1e3, 4
        ),
    }


def measure(tests: int = TESTS) -> dict[str, Any]:
    """Every figure, as one dict."""
    with tempfile.TemporaryDirectory(prefix="bench_fixture_") as tmp:
        directory = Path(tmp)
        env = _environment(directory / "pycache")
        work = directory / "project"
        work.mkdir()
        return {
            "plugin_import": measure_plugin_import(env, work),
            "under_pytest": measure_under_pytest(env, work, tests),
            "in_process": measure_in_process(),
        }


def main() -> None:
    figures = measure()
    for section, values in figures.items():
        for name, value in values.items():
            print(f"{section:<14} {name:<28} {value}")
    imported, fixture = figures["plugin_import"], figures["under_pytest"]
    print(
        f"targets: plugin import {imported['above_bare_s']} s above bare python "
        f"({imported['above_pytest_s']} s above pytest) <= {IMPORT_TARGET_S} s, "
        f"fixture {fixture['fixture_per_test_ms']} ms per test <= {FIXTURE_TARGET_MS} ms"
    )


if __name__ == "__main__":
    main()
