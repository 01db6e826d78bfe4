"""Threads: create (with their first messages), retrieve, modify, delete."""

from __future__ import annotations

from ..wire import objects
from ..wire import requests as schemas
from ..wire.objects import Obj
from .base import Resource, dump
from .links import (
    THREAD_STORE_EXPIRY,
    attach_files,
    check_attachments,
    check_tool_resources,
    make_vector_stores,
)


class Threads(Resource):
    def create(self, body: schemas.CreateThread) -> Obj:
        data = dump(body)
        messages = data.get("messages") or []
        check_tool_resources(self, data)
        check_attachments(self, {"tool_resources": data.get("tool_resources") or {}}, messages)
        make_vector_stores(self, data, expires_after=THREAD_STORE_EXPIRY)
        thread = objects.thread(self.new_id("thread"), self.now(), data)
        self.store.add_thread(thread)
        self.claim(thread["id"])
        for message in messages:
            self.engine.add_message(thread["id"], message)
            attach_files(self, thread, message.get("attachments") or [])
        return thread

    def get(self, thread_id: str) -> Obj:
        return objects.retrieved_thread(self.thread(thread_id))

    def modify(self, thread_id: str, body: schemas.ModifyThread) -> Obj:
        thread = self.thread(thread_id)
        changes = dump(body)
        check_tool_resources(self, changes)
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
