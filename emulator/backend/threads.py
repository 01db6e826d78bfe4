"""Threads: create (with their first messages), retrieve, modify, delete."""

from __future__ import annotations

from ..wire import objects
from ..wire import requests as schemas
from ..wire.objects import Obj
from .base import Resource, dump


class Threads(Resource):
    def create(self, body: schemas.CreateThread) -> Obj:
        data = dump(body)
        self.make_vector_stores(data)
        thread = objects.thread(self.new_id("thread"), self.now(), data)
        self.store.add_thread(thread)
        self.claim(thread["id"])
        for message in data.get("messages") or []:
            self.engine.add_message(thread["id"], message)
        return thread

    def get(self, thread_id: str) -> Obj:
        return objects.retrieved_thread(self.thread(thread_id))

    def modify(self, thread_id: str, body: schemas.ModifyThread) -> Obj:
        thread = self.thread(thread_id)
        changes = dump(body)
        if "metadata" in changes:
            thread["metadata"] = dict(changes["metadata"] or {})
        if "tool_resources" in changes:
            thread["tool_resources"] = objects.tool_resources(changes["tool_resources"])
        return thread

    def delete(self, thread_id: str) -> Obj:
        self.thread(thread_id)
        self.engine.forget_thread(thread_id)
        self.store.remove_thread(thread_id)
        return objects.deleted(thread_id, "thread")
