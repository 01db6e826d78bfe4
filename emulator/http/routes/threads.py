"""`/threads` routes (creating a thread together with a run is in `runs`)."""

from __future__ import annotations

from ...wire import requests as schemas
from ...wire.objects import Obj
from .base import Call, Route


def create_thread(call: Call) -> Obj:
    return call.backend.threads.create(call.body(schemas.CreateThread))


def get_thread(call: Call) -> Obj:
    return call.backend.threads.get(call.params["thread_id"])


def modify_thread(call: Call) -> Obj:
    return call.backend.threads.modify(call.params["thread_id"], call.body(schemas.ModifyThread))


def delete_thread(call: Call) -> Obj:
    return call.backend.threads.delete(call.params["thread_id"])


THREAD = r"/threads/(?P<thread_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", r"/threads", create_thread),
    ("GET", THREAD, get_thread),
    ("POST", THREAD, modify_thread),
    ("DELETE", THREAD, delete_thread),
]
