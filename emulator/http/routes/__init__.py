"""Method + path -> handler, one module per resource; paths are relative to the API root.

A new resource is a module with a `ROUTES` list, added to `MODULES` (the first match wins, so
a fixed path such as `/threads/runs` comes before the `/threads/{thread_id}` it looks like).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from ...wire.errors import InvalidRequestError, MethodNotAllowedError, NotFoundError
from . import assistants, files, messages, models, runs, threads, vector_stores
from .base import INCLUDE_FILE_SEARCH_CONTENT, Binary, Call, Handler, Request, Route, Stream

__all__ = [
    "INCLUDE_FILE_SEARCH_CONTENT",
    "ROUTES",
    "Binary",
    "Call",
    "Handler",
    "Request",
    "Route",
    "Stream",
    "resolve",
]

MODULES = (assistants, runs, threads, messages, models, files, vector_stores)
ROUTES: list[Route] = [route for module in MODULES for route in module.ROUTES]


def _shape(path: str) -> tuple[str, int]:
    """A path's first segment and segment count (a trailing slash ignored): only routes of the
    same shape can match, so each request tries a handful of patterns, not all of them."""
    segments = path.rstrip("/").split("/")
    return (segments[1] if len(segments) > 1 else "", len(segments))


ID_PREFIXES = {
    "assistant_id": "asst",
    "thread_id": "thread",
    "message_id": "msg",
    "run_id": "run",
    "step_id": "step",
    "batch_id": "vsfb_",
}  # other ids (files, vector stores) are not prefix-checked: an unknown one is a 404

# by method and shape: each route's pattern, handler and the id prefixes its parameters must have
_Candidate = tuple[re.Pattern[str], Handler, tuple[tuple[str, str], ...]]
_BY_SHAPE: dict[tuple[str, tuple[str, int]], list[_Candidate]] = {}
for _method, _pattern, _handler in ROUTES:  # every segment is a literal or one `[^/]+` id
    _compiled = re.compile(_pattern + r"/?")
    _checks = tuple(
        (name, ID_PREFIXES[name]) for name in _compiled.groupindex if name in ID_PREFIXES
    )
    _BY_SHAPE.setdefault((_method, _shape(_pattern.replace("[^/]", ""))), []).append(
        (_compiled, _handler, _checks)
    )


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler for a method and path with its checked ids, or the 404/405/400 the API
    answers."""
    shape = _shape(path)
    for pattern, handler, checks in _BY_SHAPE.get((method, shape), ()):
        match = pattern.fullmatch(path)
        if match is None:
            continue
        params = match.groupdict()
        if "%" in path:  # segments are matched as sent, then decoded: `a%2Fb` is one id
            params = {name: unquote(value) for name, value in params.items()}
        for name, prefix in checks:
            if not params[name].startswith(prefix):
                raise InvalidRequestError(
                    f"Invalid '{name}': '{params[name]}'. Expected an ID that begins with "
                    f"'{prefix}'.",
                    param=name,
                )
        return handler, params
    allowed = any(  # another method's route matches: 405
        pattern.fullmatch(path)
        for (other, other_shape), candidates in _BY_SHAPE.items()
        if other_shape == shape and other != method
        for pattern, _, _ in candidates
    )
    if allowed:
        raise MethodNotAllowedError(f"Invalid method for URL ({method} /v1{path})")
    raise NotFoundError(f"Invalid URL ({method} /v1{path})")
