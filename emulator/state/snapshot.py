"""Snapshots: an emulator's whole state as JSON data, and back, exactly.

A snapshot holds every object (in creation order; files with their bytes, vector stores with
their files and batches), the run engine's bookkeeping (tool results,
token usage, truncation reports), key ownership, the clock's time, the id generators' state and
the settings that are data (progress mode, holds, registered models, HTTP options). Responders,
token counters and chunkers are code: configure them again after loading. Recorded requests and
pending faults belong to the test, not to the service, and are neither saved nor replaced.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from ..backend import Backend
from ..engine.models import DEFAULT_MODELS, ModelInfo, ModelRegistry
from ..engine.outcomes import RunState
from ..engine.responders import ToolResult
from ..engine.truncation import MessageAccount, TruncationReport
from ..wire import decode
from ..wire.objects import Obj
from .settings import Settings
from .snapshot_schema import SnapshotData
from .store import ACTIVE_RUN_STATUSES

FORMAT = "assistants-emulator/snapshot"
VERSION = 1
MAX_DEPTH = 128  # a request body nests at most 100 levels; objects sit a few levels below the top

Snapshot = dict[str, Any]
Source = str | Path | Mapping[str, Any]


class SnapshotError(ValueError):
    """The data is not a snapshot this version can restore."""


def read(source: Source) -> Snapshot:
    """Snapshot data from a JSON file path or from data (copied), validated in full.

    Every problem (unreadable file, bad JSON, NaN or Infinity, nesting deeper than
    `MAX_DEPTH`, a wrong type anywhere) raises `SnapshotError`, before anything is replaced.
    """
    if isinstance(source, str | Path):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SnapshotError(f"cannot read {source}: {error}") from None
        data = _decode(text)
    else:
        try:  # a JSON round trip: a deep copy that also proves the data is JSON
            text = json.dumps(dict(source), allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise SnapshotError(f"not JSON data: {_one_line(error)}") from None
        data = _decode(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SnapshotError(f"not an emulator snapshot (expected format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise SnapshotError(f"unsupported snapshot version {data.get('version')!r}")
    validate(text)
    return data


def validate(text: str) -> SnapshotData:
    """The snapshot JSON checked against its schema (`snapshot_schema`), section by section."""
    try:
        return SnapshotData.model_validate_json(text, strict=True)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = _location(first["loc"]) or "snapshot"
        raise SnapshotError(f"malformed snapshot: {where}: {_one_line(first['msg'])}") from None


def _decode(text: str) -> Any:
    try:
        return decode.loads(text, max_depth=MAX_DEPTH)
    except decode.TooDeep:
        raise SnapshotError(f"malformed snapshot: nested more than {MAX_DEPTH} levels") from None
    except decode.NotJSON as error:
        raise SnapshotError(f"not valid JSON: {_one_line(error)}") from None


def _location(loc: tuple[int | str, ...]) -> str:
    """`('threads', 0, 'runs', 1, 'run', 'tools', 0, '~function', 'type')` ->
    `threads[0].runs[1].run.tools[0].type` (union tags and model names dropped)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("~") and not part[:1].isupper():
            path += f".{part}" if path else part
    return path


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else f"{text[:200]}…"


def take(backend: Backend, settings: Settings) -> Snapshot:
    """The backend's state and the settings as JSON-serialisable data (see the module
    docstring)."""
    store = backend.store
    with store.lock:
        threads = []
        for thread in store.threads:
            runs = [
                {
                    "run": run,
                    "steps": store.steps[run["id"]].values(),
                    "state": _state_data(backend.engine.states.get(run["id"], RunState())),
                }
                for run in store.runs[thread["id"]]
            ]
            threads.append(
                {
                    "thread": thread,
                    "messages": store.messages[thread["id"]].values(),
                    "runs": runs,
                }
            )
        data: Snapshot = {
            "format": FORMAT,
            "version": VERSION,
            "clock": {"now": backend.clock.now()},
            "options": {
                "require_key": settings.required_key,
                "isolate_keys": settings.isolate_keys,
                "poll_after_ms": settings.poll_after_ms,
            },
            "settings": {
                "progress": settings.progress,
                "holds": [[run_id, status] for run_id, status in settings.holds.items()],
                "models": [
                    dataclasses.asdict(info)
                    for info in settings.models
                    if info not in DEFAULT_MODELS
                ],
                "default_model": dataclasses.asdict(settings.models.default),
            },
            "assistants": store.assistants.values(),
            "threads": threads,
            "owners": dict(store.owner),
            "ids": _ids_data(backend.ids.seed, backend.ids.get_state()),
        }
        # Files (bytes as base64) and vector stores, when there are any (so snapshots without
        # them stay as they were); search indexes are rebuilt on load.
        library = backend.library.dump()
        if library["files"] or library["vector_stores"]:
            data["library"] = library
        # A JSON round trip: a deep copy that also proves the data is JSON.
        result: Snapshot = json.loads(json.dumps(data))
        return result


def restore(backend: Backend, settings: Settings, data: Snapshot) -> None:
    """Replace the state with a snapshot's (data from `read`, so of the right shape); when the
    objects do not fit together, raise `SnapshotError` and change nothing."""
    store = backend.store
    if not callable(getattr(backend.clock, "move_to", None)):
        raise TypeError(f"cannot restore the time of {backend.clock!r}: no move_to()")
    with store.lock:
        before = take(backend, settings)
        try:
            _restore(backend, settings, data)
            problems = store.check_invariants()
            if problems:
                raise SnapshotError(_one_line("inconsistent snapshot: " + "; ".join(problems)))
        except Exception as error:  # whatever failed, the state before is put back
            _restore(backend, settings, before)
            if isinstance(error, SnapshotError):
                raise
            problem = _one_line(f"{type(error).__name__}: {error}")
            raise SnapshotError(f"malformed snapshot: {problem}") from error


def _restore(backend: Backend, settings: Settings, data: Snapshot) -> None:
    store = backend.store
    backend.reset()
    backend.clock.move_to(int(data["clock"]["now"]))  # before the runs: none expire on the way
    for assistant in data["assistants"]:
        store.assistants.add(_object(assistant, "assistant"))
    for entry in data["threads"]:
        thread = _object(entry["thread"], "thread")
        store.add_thread(thread)
        for message in entry["messages"]:
            store.messages[thread["id"]].add(_object(message, "thread.message"))
        for run_entry in entry["runs"]:
            run = _object(run_entry["run"], "thread.run")
            store.add_run(run)
            for step in run_entry["steps"]:
                store.steps[run["id"]].add(_object(step, "thread.run.step"))
            backend.engine.states[run["id"]] = _state(run_entry.get("state") or {})
            if run["status"] in ACTIVE_RUN_STATUSES:
                store.active_run[run["thread_id"]] = run["id"]
    store.owner.update({str(k): str(v) for k, v in data["owners"].items()})
    # files and vector stores (absent from snapshots taken before they existed)
    backend.library.load(data.get("library") or {"files": [], "vector_stores": []})
    saved = data["settings"]
    if saved["progress"] not in ("resting", "step"):
        raise SnapshotError(f"unknown progress mode {saved['progress']!r}")
    settings.progress = saved["progress"]
    settings.holds.clear()
    settings.holds.update({run_id: status for run_id, status in saved["holds"]})
    settings.models = ModelRegistry(
        (*DEFAULT_MODELS, *(ModelInfo(**m) for m in saved["models"])),
        default=ModelInfo(**saved["default_model"]),
    )
    ids = data["ids"]
    backend.ids.seed = ids["seed"]
    backend.ids.set_state((_random_state(ids["objects"]), _random_state(ids["requests"])))


def _object(value: Any, kind: str) -> Obj:
    if not isinstance(value, dict) or value.get("object") != kind or "id" not in value:
        raise SnapshotError(f"expected an object of type {kind!r} with an id: {str(value)[:80]}")
    return value


# --- run engine bookkeeping ------------------------------------------------------------------


def _state_data(state: RunState) -> Obj:
    data: Obj = dataclasses.asdict(state)
    return data


def _state(data: Obj) -> RunState:
    fields = {f.name for f in dataclasses.fields(RunState)}
    values = {k: v for k, v in data.items() if k in fields}
    if "tool_results" in values:
        values["tool_results"] = [ToolResult(**r) for r in values["tool_results"]]
    if "pending_usage" in values:
        values["pending_usage"] = tuple(values["pending_usage"])
    if "reports" in values:
        values["reports"] = [_report(r) for r in values["reports"]]
    return RunState(**values)


def _report(data: Obj) -> TruncationReport:
    return TruncationReport(
        **{
            **data,
            "visible": tuple(MessageAccount(**a) for a in data["visible"]),
            "dropped_ids": tuple(data["dropped_ids"]),
            "dropped_roles": tuple(data.get("dropped_roles", ())),
            "beginning_ids": tuple(data.get("beginning_ids", ())),
        }
    )


# --- id generators ---------------------------------------------------------------------------


def _ids_data(seed: int | str, state: tuple[object, object]) -> Obj:
    objects, requests = state
    return {"seed": seed, "objects": _random_data(objects), "requests": _random_data(requests)}


def _random_data(state: object) -> Obj:
    """A `random.Random` state (version, 625 words, gauss) with the words packed as base64."""
    version, words, gauss = cast(tuple[int, tuple[int, ...], float | None], state)
    packed = struct.pack(f"<{len(words)}I", *words)
    return {"version": version, "words": base64.b64encode(packed).decode(), "gauss": gauss}


def _random_state(data: Obj) -> tuple[Any, ...]:
    packed = base64.b64decode(data["words"], validate=True)
    words = struct.unpack(f"<{len(packed) // 4}I", packed)
    return (data["version"], words, data["gauss"])


__all__ = [
    "FORMAT",
    "VERSION",
    "Snapshot",
    "SnapshotError",
    "Source",
    "read",
    "restore",
    "take",
    "validate",
]
