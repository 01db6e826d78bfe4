"""The control API: drive a served emulator over HTTP, under `/_emulator/` beside `/v1`.

What a test does in Python (move the clock, load a script, reset, snapshot, hold runs, inject
faults, read the request log) any HTTP client can do here, so a Node, Go or curl user reproduces
run expiry without Python. `GET /_emulator/` is the dashboard, a page built on these calls.

Framework-free like the routes: an adapter hands `handle` the method, the path below
`/_emulator`, the query, the headers and the body, and sends back the `Response`. The handlers
need only `ControlledEmulator`, the few things they call on an emulator.

Key rule: when the emulator has `require_key`, every call but the page itself needs that key
(`Authorization: Bearer KEY`); without it, no key is needed (the page has no key to send).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..engine import scripts
from ..engine.responders import Responder, from_script
from ..state.clock import Clock
from ..state.settings import HoldStatus
from ..state.snapshot import MAX_DEPTH as MAX_SNAPSHOT_DEPTH
from ..wire import decode
from ..wire.errors import (
    APIError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    ServerError,
)
from ..wire.objects import Obj
from ..wire.render import pretty_json
from ..wire.validation import parse
from . import control_views as views
from .pipeline import Request, Response, authenticate
from .routes.base import parse_list_query

PREFIX = "/_emulator"
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: the clock stays a readable date

log = logging.getLogger("emulator.control")


# --- what the handlers need from an emulator --------------------------------------------------


class KeyOptions(Protocol):
    @property
    def required_key(self) -> str | None: ...


class ErrorRenderer(Protocol):
    def render_error(self, error: APIError) -> Response: ...


class ControlledEmulator(views.Viewed, Protocol):
    """What the control API calls on an emulator (`Emulator` has all of it)."""

    @property
    def settings(self) -> KeyOptions: ...
    @property
    def pipeline(self) -> ErrorRenderer: ...
    @property
    def clock(self) -> Clock: ...
    def reset(self) -> None: ...
    def respond_with(self, responder: Responder, *, assistant: str | None = None) -> None: ...
    def snapshot(self) -> dict[str, Any]: ...
    def load(self, source: Mapping[str, Any]) -> object: ...
    def hold(self, at: HoldStatus = "in_progress", *, run_id: str | None = None) -> None: ...
    def release(self, run_id: str | None = None) -> None: ...
    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 500,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> object: ...
    def drop_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> object: ...
    def timeout_next(
        self, times: int = 1, *, method: str | None = None, path: str | None = None
    ) -> object: ...


@dataclasses.dataclass(frozen=True)
class Call:
    """One control request: the emulator it acts on and what was sent."""

    emulator: ControlledEmulator
    query: Sequence[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return decode_json(self.body)


Handler = Callable[[Call], Any]  # JSON data to answer with


# --- bodies ----------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ClockAdvance(_Body):
    seconds: Annotated[float, Field(ge=0, le=MAX_TIMESTAMP, allow_inf_nan=False)]


class ClockMoveTo(_Body):
    timestamp: Annotated[int, Field(ge=0, le=MAX_TIMESTAMP)]


class HoldBody(_Body):
    at: Literal["queued", "in_progress"] = "in_progress"
    run_id: str | None = None


class ReleaseBody(_Body):
    run_id: str | None = None


class FaultBody(_Body):
    type: Literal["fail", "drop", "timeout"] = "fail"
    times: Annotated[int, Field(ge=1, le=10_000)] = 1
    method: Literal["GET", "POST", "DELETE"] | None = None
    path: str | None = None  # a regex searched in the API path, e.g. "/runs$"
    status: Annotated[int, Field(ge=400, le=599)] | None = None  # fail only (default 500)
    retry_after: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False)] | None = None
    message: str | None = None


# --- handlers --------------------------------------------------------------------------------


def get_clock(call: Call) -> Obj:
    return {"now": call.emulator.clock.now()}


def advance_clock(call: Call) -> Obj:
    body = parse(ClockAdvance, call.json())
    if call.emulator.clock.now() + body.seconds > MAX_TIMESTAMP:
        raise InvalidRequestError(
            f"Invalid 'seconds': the clock would pass {MAX_TIMESTAMP} (the year 9999).",
            param="seconds",
            code="invalid_value",
        )
    return {"now": call.emulator.clock.advance(body.seconds)}


def move_clock(call: Call) -> Obj:
    body = parse(ClockMoveTo, call.json())
    call.emulator.clock.move_to(body.timestamp)
    return {"now": call.emulator.clock.now()}


def reset(call: Call) -> Obj:
    call.emulator.reset()
    return {"reset": True, "now": call.emulator.clock.now()}


def load_script(call: Call) -> Obj:
    """The script format of files and `--responder` (`engine/scripts.py`), one parser for all."""
    try:
        data = scripts.parse(call.json())
    except scripts.ScriptFormatError as error:
        raise InvalidRequestError(error.message, param=error.param, code=error.code) from None
    call.emulator.respond_with(from_script(data), assistant=data.assistant)
    return {
        "replies": len(data.replies or ()),
        "rules": len(data.rules or ()),
        "assistant": data.assistant,
    }


def get_snapshot(call: Call) -> Obj:
    return call.emulator.snapshot()


def load_snapshot(call: Call) -> Obj:
    data = call.json()
    if not isinstance(data, dict):
        raise InvalidRequestError("Invalid snapshot: expected a JSON object.", code="invalid_type")
    try:
        call.emulator.load(data)  # all or nothing: a SnapshotError changes nothing
    except ValueError as error:  # SnapshotError is a ValueError
        raise InvalidRequestError(f"Invalid snapshot: {error}", code="invalid_snapshot") from None
    return {"loaded": True, "now": call.emulator.clock.now()}


def hold(call: Call) -> Obj:
    body = parse(HoldBody, call.json())
    call.emulator.hold(body.at, run_id=body.run_id)
    return {"held": body.at, "run_id": body.run_id}


def release(call: Call) -> Obj:
    body = parse(ReleaseBody, call.json())
    call.emulator.release(body.run_id)
    return {"released": True, "run_id": body.run_id}


def add_fault(call: Call) -> Obj:
    body = parse(FaultBody, call.json())
    if body.path is not None:
        try:
            re.compile(body.path)
        except re.error as error:
            raise InvalidRequestError(
                f"Invalid 'path': not a regular expression ({error}).",
                param="path",
                code="invalid_value",
            ) from None
    emulator = call.emulator
    if body.type == "fail":
        emulator.fail_next(
            body.times,
            status=500 if body.status is None else body.status,
            method=body.method,
            path=body.path,
            retry_after=body.retry_after,
            message=body.message,
        )
    else:
        for name in ("status", "retry_after", "message"):
            if getattr(body, name) is not None:
                raise InvalidRequestError(
                    f"Invalid '{name}': it applies to faults of type 'fail' only.",
                    param=name,
                    code="invalid_value",
                )
        add = emulator.drop_next if body.type == "drop" else emulator.timeout_next
        add(body.times, method=body.method, path=body.path)
    return body.model_dump()


def recent_requests(call: Call) -> Obj:
    """The newest requests (`limit`, default 20, at most 100), newest first like API lists."""
    query = parse_list_query(call.query)
    return views.requests_page(
        call.emulator.requests, query.limit, newest_first=query.order == "desc"
    )


def state(call: Call) -> Obj:
    """Everything the dashboard shows (`control_views.state`)."""
    return views.state(call.emulator)


# --- dispatch --------------------------------------------------------------------------------

ROUTES: dict[str, dict[str, Handler]] = {
    "/clock": {"GET": get_clock},
    "/clock/advance": {"POST": advance_clock},
    "/clock/move_to": {"POST": move_clock},
    "/reset": {"POST": reset},
    "/script": {"POST": load_script},
    "/snapshot": {"GET": get_snapshot, "POST": load_snapshot},
    "/hold": {"POST": hold},
    "/release": {"POST": release},
    "/faults": {"POST": add_fault},
    "/requests": {"GET": recent_requests},
    "/state": {"GET": state},
}


def handle(emulator: ControlledEmulator, request: Request) -> Response:
    """Answer one control request; its path is below `/_emulator` (`""`, `/`, `/clock/advance`).

    Header names are lower-case. Every failure is an OpenAI-shaped error, rendered by the
    pipeline like every wire error; nothing changes then.
    """
    method, path, headers = request.method.upper(), request.path, request.headers
    route = path.rstrip("/")
    if route == "":
        if method != "GET":
            return _error(
                emulator, MethodNotAllowedError(f"Invalid method for URL ({method} {PREFIX}/)")
            )
        return dashboard(emulator.settings.required_key is not None)
    try:
        required_key = emulator.settings.required_key
        if required_key is not None:
            authenticate(headers, required_key)
        methods = ROUTES.get(route)
        if methods is None:
            raise NotFoundError(f"Invalid URL ({method} {PREFIX}{path})")
        handler = methods.get(method)
        if handler is None:
            raise MethodNotAllowedError(f"Invalid method for URL ({method} {PREFIX}{path})")
        answer = handler(Call(emulator, request.query, request.body))
    except APIError as error:
        return _error(emulator, error)
    except Exception as error:  # a bug in the emulator: say so, as the routes do
        log.error("control %s %r failed: %r", method, path, error, exc_info=error)
        failure = ServerError(f"The control call failed: {type(error).__name__}: {error}")
        return _error(emulator, failure)
    return Response(200, _json_headers(), pretty_json(answer))


def decode_json(raw: bytes) -> Any:
    """A JSON body (empty: `{}`); NaN, Infinity and numbers too large for a float are refused."""
    if not raw.strip():
        return {}
    try:
        return decode.loads(raw, max_depth=MAX_SNAPSHOT_DEPTH)
    except decode.TooDeep:
        raise InvalidRequestError("Invalid body: JSON nested too deeply.") from None
    except decode.NotJSON:
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. The control API expects a "
            "JSON payload, but what was sent was not valid JSON."
        ) from None


def _json_headers() -> dict[str, str]:
    return {"content-type": "application/json", "cache-control": "no-store"}


def _error(emulator: ControlledEmulator, error: APIError) -> Response:
    response = emulator.pipeline.render_error(error)
    response.headers["cache-control"] = "no-store"
    return response


# --- the dashboard ---------------------------------------------------------------------------

_KEY_MARKER = 'content="key-required"'
_PAGE_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    # Everything is inline and nothing outside this server is fetched (offline by design).
    "content-security-policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"
    ),
}


@functools.cache
def _page() -> str:
    return (
        resources.files("emulator")
        .joinpath("http")
        .joinpath("dashboard")
        .joinpath("index.html")
        .read_text(encoding="utf-8")
    )


def dashboard(key_required: bool) -> Response:
    """The dashboard page; it asks for the key first when the emulator requires one."""
    page = _page().replace(_KEY_MARKER, f'content="{"true" if key_required else "false"}"', 1)
    return Response(200, dict(_PAGE_HEADERS), page.encode("utf-8"))


__all__ = ["PREFIX", "ROUTES", "ControlledEmulator", "decode_json", "handle"]
