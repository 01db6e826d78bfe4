"""The workflows in simulated machine events, alike on every run: `python -m benchmarks.callgrind`.

The wall-clock ratios of `bench_workflows` move with how cold the machine's caches are when the
emulator runs between the SDK's calls, and so with the machine and with whatever else its host
runs: the tool-call workflow on openai 2.x measured 1.19-1.21x on one machine and 1.21-1.31x on
another the same day. A change worth a hundredth cannot be seen through that. This runs the
interleaved loop of a workflow under valgrind's callgrind twice, as (floor, floor) pairs and as
(floor, emulator) pairs, counting only after a warm-up, and prints what the emulator's workflow
costs against the floor's: instructions, cache misses of a 32 KB first level and a 1 MB second
level (`--ll`), and branch mispredictions. With the address layout and hash seed fixed, two
runs of the same code count the same instructions and misses within a tenth of a percent, so
one run of each tree tells a change; any change still moves the memory layout, and with it the
misses by a few percent of what the emulator adds, so only differences beyond that mean
something. Needs valgrind and setarch (`apt-get install valgrind`); about 75 s per workflow.

The heap built by imports and warm-up is frozen (`gc.freeze()`) before counting, so that a full
collection of it, which lands in one iteration out of many and is not what a median sees, does
not swing the totals; counting stops before the interpreter shuts down.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS = {
    "Ir": "instructions",
    "I1mr": "first-level misses, instructions",
    "D1mr": "first-level misses, data read",
    "D1mw": "first-level misses, data written",
    "ILmr": "second-level misses, instructions",
    "DLmr": "second-level misses, data read",
    "DLmw": "second-level misses, data written",
    "Bcm": "mispredicted conditional branches",
    "Bim": "mispredicted indirect branches",
}
WARM_UP = 60


def child(workflow_name: str, mode: str, pairs: int, go: Path) -> None:
    """The loop valgrind runs: warm up, say READY, wait for `go`, then run `pairs` pairs."""
    import gc
    import warnings

    import openai

    from benchmarks import bench_workflows as bench
    from emulator import Emulator

    warnings.simplefilter("ignore", DeprecationWarning)
    workflow = bench.WORKFLOWS[workflow_name]
    answers = bench.record(workflow)
    with (
        Emulator() as emulator,
        openai.OpenAI(api_key=bench.API_KEY) as intercepted,
        bench.floor_client(answers) as floor,
        bench.floor_client(answers) as second_floor,
    ):
        other = intercepted if mode == "emulator" else second_floor
        for _ in range(WARM_UP):
            workflow(floor)
            workflow(other)
        emulator.reset()
        gc.collect()
        gc.freeze()
        print("READY", os.getpid(), flush=True)
        while not go.exists():
            time.sleep(0.05)
        for _ in range(pairs):
            workflow(floor)
            workflow(other)
        sys.stdout.flush()
        os._exit(0)  # counting stops here: not the interpreter's shutdown


def _callgrind(workflow: str, mode: str, pairs: int, ll: str, folder: Path) -> dict[str, int]:
    """Run `child` under callgrind, counting from READY on; the totals of every event."""
    out, go = folder / f"{mode}.out", folder / f"{mode}.go"
    # A fixed address layout (`setarch -R`) and hash seed: the same code counts the same, to
    # the instruction (the type attribute cache otherwise collides differently on each run).
    fixed_layout = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    command = [
        *fixed_layout,
        "valgrind",
        "-q",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--cache-sim=yes",
        "--branch-sim=yes",
        "--I1=32768,8,64",
        "--D1=49152,12,64",
        f"--LL={ll}",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.callgrind",
        "--child",
        workflow,
        mode,
        str(pairs),
        str(go),
    ]
    root = Path(__file__).resolve().parent.parent
    log = (folder / f"{mode}.log").open("w")
    environment = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict and set layouts
    process = subprocess.Popen(
        command, cwd=root, env=environment, stdout=subprocess.PIPE, stderr=log, text=True
    )
    assert process.stdout is not None
    pid = None
    for line in process.stdout:
        if line.startswith("READY"):
            pid = line.split()[1]
            break
    if pid is not None:
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        go.touch()
    status = process.wait()
    log.close()
    if pid is None or status != 0:
        raise RuntimeError(f"the {mode} loop failed under valgrind:\n{_log_text(folder, mode)}")
    return _totals(out)


def _log_text(folder: Path, mode: str) -> str:
    return (folder / f"{mode}.log").read_text()[-3000:]


def _totals(out: Path) -> dict[str, int]:
    names: list[str] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith("summary:"):
            return dict(zip(names, map(int, line.split()[1:]), strict=True))
    raise RuntimeError(f"no totals in {out}")


def measure(
    workflow: str, pairs: int, ll: str, keep: Path | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """Per workflow: the floor's events and the emulator's, both modes run side by side; the
    callgrind files are left in `keep` (`<workflow>-floor.out`, `<workflow>-emulator.out`)."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        folder = Path(scratch)
        floor_run = pool.submit(_callgrind, workflow, "floor", pairs, ll, folder)
        emulator_run = pool.submit(_callgrind, workflow, "emulator", pairs, ll, folder)
        floor_pairs, emulator_pairs = floor_run.result(), emulator_run.result()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for mode in ("floor", "emulator"):
                shutil.copy(folder / f"{mode}.out", keep / f"{workflow}-{mode}.out")
    floor = {event: floor_pairs[event] / pairs / 2 for event in EVENTS}
    emulator = {event: emulator_pairs[event] / pairs - floor[event] for event in EVENTS}
    return floor, emulator


def render(
    workflow: str, pairs: int, ll: str, floor: dict[str, float], emulator: dict[str, float]
) -> str:
    lines = [
        f"{workflow}: one workflow, from {pairs} interleaved pairs after {WARM_UP} (LL {ll})",
        f"{'':<36}{'floor':>12}{'emulator':>12}{'added':>9}",
    ]
    for event, label in EVENTS.items():
        added = (emulator[event] - floor[event]) / floor[event] * 100 if floor[event] else 0.0
        figures = f"{floor[event] / 1e3:>11,.0f}k{emulator[event] / 1e3:>11,.0f}k"
        lines.append(f"{label:<36}{figures}{added:>8.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--workflow",
        action="append",
        choices=["text", "tool_call", "streamed"],
        help="(repeatable)",
    )
    parser.add_argument("--pairs", type=int, default=40, help="counted (floor, other) pairs")
    parser.add_argument("--ll", default="1048576,16,64", help="last-level cache: size,ways,line")
    parser.add_argument("--keep", type=Path, help="leave the callgrind files in this folder")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, mode, pairs, go = args.child
        child(name, mode, int(pairs), Path(go))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    for workflow in args.workflow or ["tool_call"]:
        floor, emulator = measure(workflow, args.pairs, args.ll, args.keep)
        print(render(workflow, args.pairs, args.ll, floor, emulator))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
