"""`/models` routes: the emulator's model registry."""

from __future__ import annotations

from ...wire.objects import Obj
from .base import Call, Route


def list_models(call: Call) -> Obj:
    return call.backend.models.list()


def get_model(call: Call) -> Obj:
    return call.backend.models.get(call.params["model"])


ROUTES: list[Route] = [
    ("GET", r"/models", list_models),
    ("GET", r"/models/(?P<model>[^/]+)", get_model),
]
