"""`/threads/{thread_id}/messages` routes."""

from __future__ import annotations

from ...wire import requests as schemas
from ...wire.objects import Obj, Page
from .base import Call, Route
from .threads import THREAD


def create_message(call: Call) -> Obj:
    body = call.body(schemas.CreateMessage)
    return call.backend.messages.create(call.params["thread_id"], body)


def list_messages(call: Call) -> Page:
    run_id = call.query_value("run_id") or None
    return call.backend.messages.list(call.params["thread_id"], call.query(), run_id)


def get_message(call: Call) -> Obj:
    p = call.params
    return call.backend.messages.get(p["thread_id"], p["message_id"])


def modify_message(call: Call) -> Obj:
    p = call.params
    body = call.body(schemas.ModifyMetadata)
    return call.backend.messages.modify(p["thread_id"], p["message_id"], body)


def delete_message(call: Call) -> Obj:
    p = call.params
    return call.backend.messages.delete(p["thread_id"], p["message_id"])


_M = rf"{THREAD}/messages/(?P<message_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", rf"{THREAD}/messages", create_message),
    ("GET", rf"{THREAD}/messages", list_messages),
    ("GET", _M, get_message),
    ("POST", _M, modify_message),
    ("DELETE", _M, delete_message),
]
