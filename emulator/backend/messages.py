"""Messages of a thread: create, retrieve, modify, delete, list (reads show run progress)."""

from __future__ import annotations

from ..wire import objects
from ..wire import requests as schemas
from ..wire.errors import not_found
from ..wire.objects import Obj, Page
from .base import ListQuery, Resource, dump, page
from .links import attach_files, check_attachments


class Messages(Resource):
    def create(self, thread_id: str, body: schemas.CreateMessage) -> Obj:
        thread = self.thread(thread_id)
        self.engine.ensure_can_add_message(thread_id)
        data = dump(body)
        check_attachments(self, thread, [data])
        message = self.engine.add_message(thread_id, data)
        attach_files(self, thread, data.get("attachments") or [])
        return message

    def _message(self, thread_id: str, message_id: str, *, poll: bool = True) -> Obj:
        self.thread(thread_id)
        self.engine.observe(thread_id, poll=poll)
        found = self.store.messages[thread_id].get(message_id)
        if found is None:
            raise not_found("message", message_id)
        return found

    def get(self, thread_id: str, message_id: str) -> Obj:
        return self._message(thread_id, message_id)

    def modify(self, thread_id: str, message_id: str, body: schemas.ModifyMetadata) -> Obj:
        message = self._message(thread_id, message_id, poll=False)
        message["metadata"] = dict(body.metadata or {})
        return message

    def delete(self, thread_id: str, message_id: str) -> Obj:
        self._message(thread_id, message_id, poll=False)
        self.store.messages[thread_id].remove(message_id)
        return objects.deleted(message_id, "thread.message")

    def list(self, thread_id: str, query: ListQuery, run_id: str | None = None) -> Page:
        self.thread(thread_id)
        self.engine.observe(thread_id)
        where = None if run_id is None else lambda m: m["run_id"] == run_id
        return page(self.store.messages[thread_id], query, where)
