"""`/assistants` routes."""

from __future__ import annotations

from ...wire import requests as schemas
from ...wire.objects import Obj, Page
from .base import Call, Route


def create_assistant(call: Call) -> Obj:
    return call.backend.assistants.create(call.body(schemas.CreateAssistant))


def list_assistants(call: Call) -> Page:
    return call.backend.assistants.list(call.query())


def get_assistant(call: Call) -> Obj:
    return call.backend.assistants.get(call.params["assistant_id"])


def modify_assistant(call: Call) -> Obj:
    body = call.body(schemas.ModifyAssistant)
    return call.backend.assistants.modify(call.params["assistant_id"], body)


def delete_assistant(call: Call) -> Obj:
    return call.backend.assistants.delete(call.params["assistant_id"])


_A = r"(?P<assistant_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", r"/assistants", create_assistant),
    ("GET", r"/assistants", list_assistants),
    ("GET", rf"/assistants/{_A}", get_assistant),
    ("POST", rf"/assistants/{_A}", modify_assistant),
    ("DELETE", rf"/assistants/{_A}", delete_assistant),
]
