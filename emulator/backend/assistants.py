"""Assistants: create, retrieve, modify, delete, list."""

from __future__ import annotations

from ..wire import objects
from ..wire import requests as schemas
from ..wire.objects import Obj, Page
from .base import ListQuery, Resource, dump, page
from .links import check_tool_resources, make_vector_stores


class Assistants(Resource):
    def create(self, body: schemas.CreateAssistant) -> Obj:
        data = dump(body)
        check_tool_resources(self, data)
        make_vector_stores(self, data, expires_after=None)
        assistant = objects.assistant(self.new_id("asst"), self.now(), data)
        self.store.assistants.add(assistant)
        self.claim(assistant["id"])
        return assistant

    def get(self, assistant_id: str) -> Obj:
        return self.assistant(assistant_id)

    def modify(self, assistant_id: str, body: schemas.ModifyAssistant) -> Obj:
        assistant = self.assistant(assistant_id)
        changes = dump(body)
        check_tool_resources(self, changes)
        merged = {**assistant, **{k: v for k, v in changes.items() if k != "tools"}}
        if "tools" in changes:
            merged["tools"] = changes["tools"] or []
        updated = objects.assistant(assistant_id, assistant["created_at"], merged)
        if "tools" not in changes:
            updated["tools"] = assistant["tools"]
        if "metadata" in changes and changes["metadata"] is None:
            updated["metadata"] = {}
        assistant.clear()
        assistant.update(updated)
        return assistant

    def delete(self, assistant_id: str) -> Obj:
        self.assistant(assistant_id)
        self.store.assistants.remove(assistant_id)
        self.store.owner.pop(assistant_id, None)
        self.service.settings.assistant_responders.pop(assistant_id, None)
        return objects.deleted(assistant_id, "assistant")

    def list(self, query: ListQuery) -> Page:
        if self.owner is None:
            return page(self.store.assistants, query)
        return page(self.store.assistants, query, lambda a: self.visible(a["id"]), self.visible)
