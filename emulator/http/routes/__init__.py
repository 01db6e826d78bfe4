"""Method + path -> handler, one module per resource; paths are relative to the API root.

A new resource is a module with a `ROUTES` list, added to `MODULES` (the first match wins, so
a fixed path such as `/threads/runs` comes before the `/threads/{thread_id}` it looks like).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ...wire.errors import InvalidRequestError, MethodNotAllowedError, NotFoundError
from . import assistants, messages, models, runs, threads
from .base import INCLUDE_FILE_SEARCH_CONTENT, Call, Handler, Request, Route, Stream

__all__ = [
    "INCLUDE_FILE_SEARCH_CONTENT",
    "ROUTES",
    "Call",
    "Handler",
    "Request",
    "Route",
    "Stream",
    "resolve",
]

MODULES = (assistants, runs, threads, messages, models)
ROUTES: list[Route] = [route for module in MODULES for route in module.ROUTES]
_COMPILED = [(method, re.compile(pattern + r"/?"), handler) for method, pattern, handler in ROUTES]
ID_PREFIXES = {
    "assistant_id": "asst",
    "thread_id": "thread",
    "message_id": "msg",
    "run_id": "run",
    "step_id": "step",
}


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler for a method and path with its checked ids, or the 404/405/400 the API
    answers."""
    allowed = False
    for route_method, pattern, handler in _COMPILED:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            # Segments are matched as sent, then decoded: `thread_1%2Fmessages` is one id.
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            _check_ids(params)
            return handler, params
        allowed = True
    if allowed:
        raise MethodNotAllowedError(f"Invalid method for URL ({method} /v1{path})")
    raise NotFoundError(f"Invalid URL ({method} /v1{path})")


def _check_ids(params: dict[str, str]) -> None:
    for name, value in params.items():
        prefix = ID_PREFIXES.get(name)
        if prefix is not None and not value.startswith(prefix):
            raise InvalidRequestError(
                f"Invalid '{name}': '{value}'. Expected an ID that begins with '{prefix}'.",
                param=name,
            )
