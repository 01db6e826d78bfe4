"""Runs and their steps: create (also with a new thread), retrieve, list, modify, cancel,
submit tool outputs. The status machine itself is `engine.runs`."""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.stream import Events, FrameBatch
from ..wire import requests as schemas
from ..wire.errors import InvalidRequestError, not_found
from ..wire.events import step_view
from ..wire.objects import Obj, Page
from .base import ListQuery, Resource, dump, page
from .links import attach_files_undoably, check_attachments, forget_new_stores
from .threads import Threads

# Runs the service is working on refuse modification: recorded for `in_progress`
# (`Cannot update run with status 'in_progress'.`, real-traffic.md §3); `queued` and
# `cancelling` are the service's too. A run resting in `requires_action` waits for the client,
# and like terminal runs it takes metadata (the README's choice; no recording either way).
BUSY_STATUSES = frozenset({"queued", "in_progress", "cancelling"})


class Runs(Resource):
    def create(self, thread_id: str, body: schemas.CreateRun, events: Events) -> Obj:
        thread = self.thread(thread_id)
        data = dump(body)
        assistant = self.assistant(data["assistant_id"])
        additional = data.get("additional_messages") or []
        check_attachments(self, thread, additional)
        undo = attach_files_undoably(
            self, thread, [a for m in additional for a in m.get("attachments") or []]
        )
        try:
            return self.engine.create(thread_id, assistant, data, events)
        except Exception:
            undo()  # a refused run leaves the thread's files as they were
            raise

    def create_thread_and_run(self, body: schemas.CreateThreadAndRun, events: Events) -> Obj:
        data = dump(body)
        assistant = self.assistant(data["assistant_id"])
        thread_body = schemas.CreateThread.model_validate(data.get("thread") or {})
        if data.get("tool_resources") is not None:
            resources = schemas.NewToolResources.model_validate(data["tool_resources"])
            thread_body = thread_body.model_copy(update={"tool_resources": resources})
        stores_before = set(self.library.vector_stores.stores)
        thread = Threads(self.service, self.owner).create(thread_body)
        events("thread.created", thread)
        try:
            return self.engine.create(thread["id"], assistant, data, events)
        except Exception:
            self.store.remove_thread(thread["id"])  # a rejected run leaves no thread behind
            forget_new_stores(self, stores_before)
            raise

    def stream(self, run: Obj, events: Events) -> Iterator[FrameBatch]:
        """The SSE frames that follow a run a streamed request created or moved."""
        return self.engine.stream(run["thread_id"], run["id"], events)

    def get(self, thread_id: str, run_id: str) -> Obj:
        self.thread(thread_id)
        self.engine.observe(thread_id)
        return self.engine.get_run(thread_id, run_id)

    def list(self, thread_id: str, query: ListQuery) -> Page:
        self.thread(thread_id)
        self.engine.observe(thread_id)
        return page(self.store.runs[thread_id], query)

    def modify(self, thread_id: str, run_id: str, body: schemas.ModifyMetadata) -> Obj:
        self.thread(thread_id)
        self.engine.observe(thread_id, poll=False)
        run = self.engine.get_run(thread_id, run_id)
        if run["status"] in BUSY_STATUSES:
            raise InvalidRequestError(f"Cannot update run with status '{run['status']}'.")
        run["metadata"] = dict(body.metadata or {})
        return run

    def cancel(self, thread_id: str, run_id: str, events: Events) -> Obj:
        self.thread(thread_id)
        return self.engine.cancel(thread_id, run_id, events)

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, body: schemas.SubmitToolOutputs, events: Events
    ) -> Obj:
        self.thread(thread_id)
        outputs: list[Obj] = dump(body)["tool_outputs"]
        return self.engine.submit_tool_outputs(thread_id, run_id, outputs, events)

    # --- run steps -----------------------------------------------------------------------

    def list_steps(
        self, thread_id: str, run_id: str, query: ListQuery, *, include_content: bool = False
    ) -> Page:
        """A page of steps; file_search results carry `content` only with `include_content`."""
        self.get(thread_id, run_id)
        found = page(self.store.steps[run_id], query)
        steps = [step_view(step, include_content=include_content) for step in found.data]
        return Page(steps, found.has_more)

    def get_step(
        self, thread_id: str, run_id: str, step_id: str, *, include_content: bool = False
    ) -> Obj:
        self.get(thread_id, run_id)
        found = self.store.steps[run_id].get(step_id)
        if found is None:
            raise not_found("run step", step_id)
        return step_view(found, include_content=include_content)
