"""Read-only views of an emulator for the control API and the dashboard: the request log and
the whole state, with long strings cut and secrets redacted (views, not the objects)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..engine.truncation import TruncationReport
from ..state.clock import Clock
from ..state.store import TERMINAL_RUN_STATUSES
from ..wire.objects import Obj

PREVIEW_CHARS = 2_000  # longer strings are cut in the state view and the request log
VIEW_LIMIT = 100  # newest assistants, threads, messages and runs per list in the state view
STATE_REQUESTS = 20  # recent requests in the state view
REDACTED_HEADERS = frozenset({"authorization", "api-key"})


class RecordedRequest(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def body_size(self) -> int: ...
    @property
    def status(self) -> int | None: ...


class Viewed(Protocol):
    """What the views read of an emulator (`Emulator` has all of it)."""

    @property
    def clock(self) -> Clock: ...
    @property
    def requests(self) -> Sequence[RecordedRequest]: ...
    @property
    def assistants(self) -> Mapping[str, Obj]: ...
    @property
    def threads(self) -> Mapping[str, Obj]: ...
    def messages(self, thread_id: str) -> list[Obj]: ...
    def runs(self, thread_id: str) -> list[Obj]: ...
    def steps(self, run_id: str) -> list[Obj]: ...
    def truncation(self, run_id: str) -> list[TruncationReport]: ...


def requests_page(log: Sequence[RecordedRequest], limit: int, *, newest_first: bool) -> Obj:
    """The newest `limit` requests of the log as a list object (bodies cut, keys redacted)."""
    data = [_request_view(r) for r in log[-limit:]]
    if newest_first:
        data.reverse()
    return {"object": "list", "data": data, "total": len(log)}


def state(emulator: Viewed) -> Obj:
    """Everything the dashboard shows, newest objects last, long strings cut."""
    now = emulator.clock.now()
    threads = []
    for thread_id, thread in _newest(emulator.threads).items():
        try:
            messages, runs = emulator.messages(thread_id), emulator.runs(thread_id)
            runs_view = [_run_view(emulator, run) for run in runs[-VIEW_LIMIT:]]
        except KeyError:  # deleted while we looked
            continue
        threads.append(
            {
                "thread": thread,
                "messages": messages[-VIEW_LIMIT:],
                "message_count": len(messages),
                "runs": runs_view,
                "run_count": len(runs),
            }
        )
    assistants = emulator.assistants
    log_ = emulator.requests
    view = {
        "object": "emulator.state",
        "now": now,
        "assistants": list(_newest(assistants).values()),
        "assistant_count": len(assistants),
        "threads": threads,
        "thread_count": len(emulator.threads),
        "requests": [_request_view(r) for r in reversed(log_[-STATE_REQUESTS:])],
        "request_count": len(log_),
    }
    abridged: Obj = _abridge(view)
    return abridged


def _newest(objects: Mapping[str, Obj]) -> dict[str, Obj]:
    return dict(list(objects.items())[-VIEW_LIMIT:])


def _run_view(emulator: Viewed, run: Obj) -> Obj:
    steps = emulator.steps(run["id"])
    return {
        "run": run,
        "timeline": timeline(run, steps),
        "steps": steps,
        "truncation": [_report_view(r) for r in emulator.truncation(run["id"])],
    }


def timeline(run: Obj, steps: Sequence[Obj]) -> list[Obj]:
    """The statuses a run went through, with when (`at` None: the time is not recorded).

    Built from the run's and its steps' timestamps: a step calling functions began a
    `requires_action` at its `created_at`, and its `completed_at` is when outputs came back.
    """
    events: list[Obj] = [{"status": "queued", "at": run["created_at"]}]
    # `started_at` is the latest start (a run starts again after tool outputs); the first turn
    # began when its first step was made.
    first_start = steps[0]["created_at"] if steps else run.get("started_at")
    if first_start is not None:
        events.append({"status": "in_progress", "at": first_start})
    for step in steps:
        details = step.get("step_details") or {}
        calls = details.get("tool_calls") or []
        if step.get("type") == "tool_calls" and any(c.get("type") == "function" for c in calls):
            events.append({"status": "requires_action", "at": step["created_at"]})
            if step.get("completed_at") is not None:
                events.append({"status": "in_progress", "at": step["completed_at"]})
    status = run["status"]
    ended = {
        "completed": run.get("completed_at"),
        "incomplete": run.get("completed_at"),
        "failed": run.get("failed_at"),
        "cancelled": run.get("cancelled_at"),
        "expired": run.get("expires_at"),  # it expired when the clock passed this
    }
    if status in TERMINAL_RUN_STATUSES:
        events.append({"status": status, "at": ended.get(status)})
    elif status != events[-1]["status"]:
        events.append({"status": status, "at": None})  # e.g. cancelling
    return events


def _report_view(report: TruncationReport) -> Obj:
    return {
        "prompt_tokens": report.prompt_tokens,
        "budget": report.budget,
        "fixed_tokens": report.fixed_tokens,
        "fits": report.fits,
        "visible": [
            {
                "id": a.id,
                "role": a.role,
                "fate": a.fate,
                "tokens": a.tokens,
                "original_tokens": a.original_tokens,
            }
            for a in report.visible
        ],
        "dropped": [
            {"id": id_, "role": role}
            for id_, role in zip(
                report.dropped_ids,
                report.dropped_roles or ("",) * len(report.dropped_ids),
                strict=True,
            )
        ],
    }


def _request_view(request: RecordedRequest) -> Obj:
    text = request.body.decode("utf-8", errors="replace")
    headers = {
        name: "[redacted]" if name in REDACTED_HEADERS else value
        for name, value in request.headers.items()
    }
    return {
        "method": request.method,
        "path": request.path,
        "url": request.url,
        "status": request.status,  # None: dropped or timed out by an injected fault
        "headers": headers,
        "body": _cut(text),
        "body_bytes": request.body_size,
    }


def _abridge(value: Any) -> Any:
    """JSON data with every string longer than PREVIEW_CHARS cut (a view, not the object)."""
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, dict):
        return {key: _abridge(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_abridge(item) for item in value]
    return value


def _cut(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}… [{len(text) - PREVIEW_CHARS} more characters]"


__all__ = ["PREVIEW_CHARS", "RecordedRequest", "Viewed", "requests_page", "state", "timeline"]
