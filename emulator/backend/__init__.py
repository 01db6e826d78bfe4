"""The backend: every API operation as a method on plain-dict state, with the service's rules.

Like a moto backend, it knows nothing of HTTP: `routes` parse requests into schema models and
call these methods; errors are raised as `errors.APIError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.models import ModelInfo, ModelRegistry
from ..engine.responders import Responder, default_responder
from ..engine.runs import Events, HoldStatus, Progress, RunEngine, split_words
from ..engine.tokens import TokenCounter, counter_for_encoding
from ..state.clock import Clock, FrozenClock
from ..state.ids import IdGenerator
from ..state.store import Obj, Order, Page, Store, clone
from ..wire import objects
from ..wire import requests as schemas
from ..wire.errors import InvalidRequestError, not_found


@dataclass
class Settings:
    """Behaviour switches of one emulator; change them at any time."""

    progress: Progress = "resting"
    holds: dict[str | None, HoldStatus | None] = field(default_factory=dict)  # None: released
    chunker: Callable[[str], Sequence[str]] = split_words
    models: ModelRegistry = field(default_factory=ModelRegistry)
    counter: Callable[[ModelInfo], TokenCounter] | None = None
    responder: Responder = default_responder
    assistant_responders: dict[str, Responder] = field(default_factory=dict)

    def counter_for(self, info: ModelInfo) -> TokenCounter:
        """The token counter for a model: the plugged-in one, else tiktoken's encoding."""
        return self.counter(info) if self.counter else counter_for_encoding(info.encoding)

    def responder_for(self, assistant: Obj) -> Responder:
        """The assistant's own responder (set by id, else by name), else the default one."""
        found = self.assistant_responders.get(assistant["id"])
        if found is None and assistant.get("name") is not None:
            found = self.assistant_responders.get(assistant["name"])
        return found if found is not None else self.responder


@dataclass(frozen=True)
class ListQuery:
    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


class Backend:
    """All state and rules of one emulated service. Every public method takes the lock."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int | str = 0,
        settings: Settings | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else FrozenClock()
        self.ids = IdGenerator(seed)
        self.settings = settings or Settings()
        self.store = Store()
        self.runs = RunEngine(self)

    def reset(self) -> None:
        """Forget every object (settings, clock and id sequence stay)."""
        with self.store.lock:
            self.store.clear()
            self.runs.clear()

    # --- ownership -----------------------------------------------------------------------

    def _visible(self, object_id: str, owner: str | None) -> bool:
        recorded = self.store.owner.get(object_id)
        return recorded is None or owner is None or recorded == owner

    def _claim(self, object_id: str, owner: str | None) -> None:
        if owner is not None:
            self.store.owner[object_id] = owner

    def _make_vector_stores(self, data: Obj) -> None:
        """Turn a `file_search.vector_stores` creation helper into the new store's id."""
        file_search = (data.get("tool_resources") or {}).get("file_search") or {}
        helpers = file_search.pop("vector_stores", None) or []
        if helpers and file_search.get("vector_store_ids"):
            raise InvalidRequestError(
                "Invalid 'tool_resources.file_search': provide either 'vector_store_ids' or "
                "'vector_stores', not both.",
                param="tool_resources.file_search",
            )
        if helpers:
            file_search["vector_store_ids"] = [self.ids.new("vs") for _ in helpers]

    # --- assistants ----------------------------------------------------------------------

    def _assistant(self, assistant_id: str, owner: str | None) -> Obj:
        found = self.store.assistants.get(assistant_id)
        if found is None or not self._visible(assistant_id, owner):
            raise not_found("assistant", assistant_id)
        return found

    def create_assistant(self, body: schemas.CreateAssistant, owner: str | None = None) -> Obj:
        with self.store.lock:
            data = _dump(body)
            self._make_vector_stores(data)
            assistant = objects.assistant(self.ids.new("asst"), self.clock.now(), data)
            self.store.assistants.add(assistant)
            self._claim(assistant["id"], owner)
            return assistant

    def get_assistant(self, assistant_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            return self._assistant(assistant_id, owner)

    def modify_assistant(
        self, assistant_id: str, body: schemas.ModifyAssistant, owner: str | None = None
    ) -> Obj:
        with self.store.lock:
            assistant = self._assistant(assistant_id, owner)
            changes = _dump(body)
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

    def delete_assistant(self, assistant_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            self._assistant(assistant_id, owner)
            self.store.assistants.remove(assistant_id)
            self.store.owner.pop(assistant_id, None)
            self.settings.assistant_responders.pop(assistant_id, None)
            return objects.deleted(assistant_id, "assistant")

    def list_assistants(self, query: ListQuery, owner: str | None = None) -> Page:
        with self.store.lock:
            return self.store.assistants.page(
                **_page_args(query),
                where=None if owner is None else lambda a: self._visible(a["id"], owner),
            )

    # --- threads -------------------------------------------------------------------------

    def thread(self, thread_id: str, owner: str | None) -> Obj:
        """The thread, or the real 404 (also for a thread another API key owns)."""
        found = self.store.threads.get(thread_id)
        if found is None or not self._visible(thread_id, owner):
            raise not_found("thread", thread_id)
        return found

    def create_thread(self, body: schemas.CreateThread, owner: str | None = None) -> Obj:
        with self.store.lock:
            data = _dump(body)
            self._make_vector_stores(data)
            thread = objects.thread(self.ids.new("thread"), self.clock.now(), data)
            self.store.add_thread(thread)
            self._claim(thread["id"], owner)
            for message in data.get("messages") or []:
                self.add_message(thread["id"], message)
            return thread

    def get_thread(self, thread_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            return objects.retrieved_thread(self.thread(thread_id, owner))

    def modify_thread(
        self, thread_id: str, body: schemas.ModifyThread, owner: str | None = None
    ) -> Obj:
        with self.store.lock:
            thread = self.thread(thread_id, owner)
            changes = _dump(body)
            if "metadata" in changes:
                thread["metadata"] = dict(changes["metadata"] or {})
            if "tool_resources" in changes:
                thread["tool_resources"] = objects.tool_resources(changes["tool_resources"])
            return thread

    def delete_thread(self, thread_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.forget_thread(thread_id)
            for run in self.store.runs[thread_id]:
                self.runs.states.pop(run["id"], None)
            self.store.remove_thread(thread_id)
            return objects.deleted(thread_id, "thread")

    # --- messages ------------------------------------------------------------------------

    def add_message(self, thread_id: str, data: Obj, *, run_id: str | None = None) -> Obj:
        """Store a message from a (validated, dumped) CreateMessage body."""
        message = objects.message(
            self.ids.new("msg"),
            self.clock.now(),
            thread_id=thread_id,
            role=data["role"],
            content=objects.content_parts(data["content"]),
            run_id=run_id,
            attachments=data.get("attachments"),
            metadata=data.get("metadata"),
        )
        self.store.messages[thread_id].add(message)
        return message

    def create_message(
        self, thread_id: str, body: schemas.CreateMessage, owner: str | None = None
    ) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.ensure_can_add_message(thread_id)
            return self.add_message(thread_id, _dump(body))

    def _message(
        self, thread_id: str, message_id: str, owner: str | None, *, poll: bool = True
    ) -> Obj:
        self.thread(thread_id, owner)
        self.runs.observe(thread_id, poll=poll)
        found = self.store.messages[thread_id].get(message_id)
        if found is None:
            raise not_found("message", message_id)
        return found

    def get_message(self, thread_id: str, message_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            return self._message(thread_id, message_id, owner)

    def modify_message(
        self,
        thread_id: str,
        message_id: str,
        body: schemas.ModifyMetadata,
        owner: str | None = None,
    ) -> Obj:
        with self.store.lock:
            message = self._message(thread_id, message_id, owner, poll=False)
            message["metadata"] = dict(body.metadata or {})
            return message

    def delete_message(self, thread_id: str, message_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            self._message(thread_id, message_id, owner, poll=False)
            self.store.messages[thread_id].remove(message_id)
            self.runs.forget_message(message_id)
            return objects.deleted(message_id, "thread.message")

    def list_messages(
        self,
        thread_id: str,
        query: ListQuery,
        run_id: str | None = None,
        owner: str | None = None,
    ) -> Page:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.observe(thread_id)
            return self.store.messages[thread_id].page(
                **_page_args(query),
                where=None if run_id is None else lambda m: m["run_id"] == run_id,
            )

    # --- runs ----------------------------------------------------------------------------

    def create_run(
        self,
        thread_id: str,
        body: schemas.CreateRun,
        events: Events,
        owner: str | None = None,
    ) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            data = _dump(body)
            assistant = self._assistant(data["assistant_id"], owner)
            return self.runs.create(thread_id, assistant, data, events)

    def create_thread_and_run(
        self, body: schemas.CreateThreadAndRun, events: Events, owner: str | None = None
    ) -> Obj:
        with self.store.lock:
            data = _dump(body)
            assistant = self._assistant(data["assistant_id"], owner)
            thread_body = schemas.CreateThread.model_validate(data.get("thread") or {})
            if data.get("tool_resources") is not None:
                resources = schemas.NewToolResources.model_validate(data["tool_resources"])
                thread_body.tool_resources = resources
            thread = self.create_thread(thread_body, owner)
            events("thread.created", thread)
            try:
                return self.runs.create(thread["id"], assistant, data, events)
            except Exception:
                self.store.remove_thread(thread["id"])  # a rejected run leaves no thread behind
                raise

    def get_run(self, thread_id: str, run_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.observe(thread_id)
            return self.runs.get_run(thread_id, run_id)

    def list_runs(self, thread_id: str, query: ListQuery, owner: str | None = None) -> Page:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.observe(thread_id)
            return self.store.runs[thread_id].page(**_page_args(query))

    def modify_run(
        self,
        thread_id: str,
        run_id: str,
        body: schemas.ModifyMetadata,
        owner: str | None = None,
    ) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            self.runs.observe(thread_id, poll=False)
            run = self.runs.get_run(thread_id, run_id)
            run["metadata"] = dict(body.metadata or {})
            return run

    def cancel_run(
        self, thread_id: str, run_id: str, events: Events, owner: str | None = None
    ) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            return self.runs.cancel(thread_id, run_id, events)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        body: schemas.SubmitToolOutputs,
        events: Events,
        owner: str | None = None,
    ) -> Obj:
        with self.store.lock:
            self.thread(thread_id, owner)
            outputs = [o.model_dump() for o in body.tool_outputs]
            return self.runs.submit_tool_outputs(thread_id, run_id, outputs, events)

    # --- run steps -----------------------------------------------------------------------

    def list_steps(
        self, thread_id: str, run_id: str, query: ListQuery, owner: str | None = None
    ) -> Page:
        with self.store.lock:
            self.get_run(thread_id, run_id, owner)
            return self.store.steps[run_id].page(**_page_args(query))

    def get_step(self, thread_id: str, run_id: str, step_id: str, owner: str | None = None) -> Obj:
        with self.store.lock:
            self.get_run(thread_id, run_id, owner)
            found = self.store.steps[run_id].get(step_id)
            if found is None:
                raise not_found("run step", step_id)
            return found

    # --- inspection ----------------------------------------------------------------------

    def copy_of(self, value: Any) -> Any:
        """A deep copy taken under the lock, for read-only views."""
        with self.store.lock:
            return clone(value)


def _dump(body: Any) -> Obj:
    """A validated body as plain data: only the fields the client sent, by their wire names."""
    data: Obj = body.model_dump(by_alias=True, exclude_unset=True)
    return data


def _page_args(query: ListQuery) -> dict[str, Any]:
    return {
        "limit": query.limit,
        "order": query.order,
        "after": query.after,
        "before": query.before,
    }
