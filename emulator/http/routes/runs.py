"""`/threads/runs` and `/threads/{thread_id}/runs` routes, with run steps."""

from __future__ import annotations

from ...engine.stream import Events
from ...wire import requests as schemas
from ...wire.objects import Obj, Page
from .base import Call, Route, Stream, events_for, run_answer
from .threads import THREAD


def create_run(call: Call) -> Obj | Stream:
    include_content = call.check_include()
    body = call.body(schemas.CreateRun)
    events = events_for(body)
    events.include_content = include_content
    run = call.backend.runs.create(call.params["thread_id"], body, events)
    return run_answer(call, events, run)


def create_thread_and_run(call: Call) -> Obj | Stream:
    body = call.body(schemas.CreateThreadAndRun)
    events = events_for(body)
    run = call.backend.runs.create_thread_and_run(body, events)
    return run_answer(call, events, run)


def list_runs(call: Call) -> Page:
    return call.backend.runs.list(call.params["thread_id"], call.query())


def get_run(call: Call) -> Obj:
    return call.backend.runs.get(call.params["thread_id"], call.params["run_id"])


def modify_run(call: Call) -> Obj:
    p = call.params
    body = call.body(schemas.ModifyMetadata)
    return call.backend.runs.modify(p["thread_id"], p["run_id"], body)


def cancel_run(call: Call) -> Obj:
    p = call.params
    return call.backend.runs.cancel(p["thread_id"], p["run_id"], Events())


def submit_tool_outputs(call: Call) -> Obj | Stream:
    p = call.params
    body = call.body(schemas.SubmitToolOutputs)
    events = events_for(body)
    run = call.backend.runs.submit_tool_outputs(p["thread_id"], p["run_id"], body, events)
    return run_answer(call, events, run)


def list_steps(call: Call) -> Page:
    include_content = call.check_include()
    p = call.params
    return call.backend.runs.list_steps(
        p["thread_id"], p["run_id"], call.query(), include_content=include_content
    )


def get_step(call: Call) -> Obj:
    include_content = call.check_include()
    p = call.params
    return call.backend.runs.get_step(
        p["thread_id"], p["run_id"], p["step_id"], include_content=include_content
    )


_R = rf"{THREAD}/runs/(?P<run_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", r"/threads/runs", create_thread_and_run),
    ("POST", rf"{THREAD}/runs", create_run),
    ("GET", rf"{THREAD}/runs", list_runs),
    ("GET", _R, get_run),
    ("POST", _R, modify_run),
    ("POST", rf"{_R}/cancel", cancel_run),
    ("POST", rf"{_R}/submit_tool_outputs", submit_tool_outputs),
    ("GET", rf"{_R}/steps", list_steps),
    ("GET", rf"{_R}/steps/(?P<step_id>[^/]+)", get_step),
]
