"""The backend: every API operation with the service's rules, one module per resource.

Like a moto backend it knows nothing of HTTP: routes parse requests into `wire.requests` models
and call `backend.scoped(key).<resource>.<operation>(...)`; errors are `wire.errors.APIError`s.
`Backend` is the only way in: it owns the store and the run engine, and offers the read-only
views and maintenance the facade and snapshots need. A new resource is a module with a
`Resource` subclass, added to `Scope`.
"""

from __future__ import annotations

from ..engine.outcomes import ResponderError
from ..engine.runs import RunEngine
from ..engine.truncation import TruncationReport
from ..retrieval.library import Library
from ..state.clock import Clock, FrozenClock
from ..state.ids import IdGenerator
from ..state.lock import StoreLock
from ..state.settings import Settings
from ..state.store import Store
from ..wire.objects import Obj, clone
from .assistants import Assistants
from .base import ListQuery, Service
from .files import Files
from .messages import Messages
from .models import Models
from .runs import Runs
from .threads import Threads
from .vector_stores import VectorStores

__all__ = ["Backend", "ListQuery", "Scope"]


class Scope:
    """The API as one API key sees it (`owner` None: every object). Callers hold the lock."""

    def __init__(self, service: Service, owner: str | None) -> None:
        self.owner = owner
        self.assistants = Assistants(service, owner)
        self.threads = Threads(service, owner)
        self.messages = Messages(service, owner)
        self.runs = Runs(service, owner)
        self.models = Models(service, owner)
        self.files = Files(service, owner)
        self.vector_stores = VectorStores(service, owner)


class Backend:
    """All state and rules of one emulated service."""

    def __init__(
        self, *, clock: Clock | None = None, seed: int | str = 0, settings: Settings | None = None
    ) -> None:
        self.clock: Clock = clock if clock is not None else FrozenClock()
        self.ids = IdGenerator(seed)
        self.settings = settings or Settings()
        self.store = Store()
        self.library = Library(self.clock, self.ids, self.settings)
        self.engine = RunEngine(
            self.store, self.clock, self.ids, self.settings, knowledge=self.library
        )
        self.library.on_file_deleted.append(self._forget_code_interpreter_file)
        self._service = Service(
            self.store, self.clock, self.ids, self.settings, self.engine, self.library
        )
        self._scopes: dict[str | None, Scope] = {}

    @property
    def lock(self) -> StoreLock:
        """Held around each operation and its rendering (reentrant); a model turn steps out of
        it for its slow parts (see `engine.runs`)."""
        return self.store.lock

    def scoped(self, owner: str | None) -> Scope:
        """The operations for one API key's objects (None: all objects, keys not isolated)."""
        scope = self._scopes.get(owner)
        if scope is None:
            scope = self._scopes[owner] = Scope(self._service, owner)
        return scope

    def reset(self) -> None:
        """Forget every object (settings, clock and id sequence stay)."""
        with self.store.lock:
            self.store.clear()
            self.engine.clear()
            self.library.clear()

    def add_message(self, thread_id: str, data: Obj) -> Obj:
        """Store a message from a (validated, dumped) CreateMessage body, bypassing the rules
        (an active run does not stop it): for building large threads fast."""
        with self.store.lock:
            return self.engine.add_message(thread_id, data)

    # --- views for the facade ------------------------------------------------------------

    def objects(self, kind: str, parent: str | None = None) -> list[Obj]:
        """Copies of stored objects, oldest first: `assistants`, `threads`, or the `messages`
        / `runs` of a thread and the `steps` of a run (KeyError for an unknown parent)."""
        store = self.store
        with store.lock:
            if parent is None:
                collection = store.assistants if kind == "assistants" else store.threads
                return clone(collection.values())
            thread_id = parent if kind != "steps" else store.run_thread.get(parent)
            if thread_id is not None and thread_id in store.runs:
                self.engine.observe(thread_id, poll=False)  # views show expiry, like a read
            table = {"messages": store.messages, "runs": store.runs, "steps": store.steps}[kind]
            found = table.get(parent)
            if found is None:
                raise KeyError(f"no {'run' if kind == 'steps' else 'thread'} {parent!r}")
            return clone(found.values())

    def truncation(self, run_id: str) -> list[TruncationReport]:
        """The prompt of each model turn of a run (KeyError for an unknown run)."""
        with self.store.lock:
            return self.engine.reports(run_id)

    @property
    def responder_errors(self) -> list[ResponderError]:
        with self.store.lock:
            return list(self.engine.responder_errors)

    def counts(self) -> dict[str, int]:
        """How many objects of each kind are stored."""
        with self.store.lock:
            return self.store.counts()

    def check_invariants(self) -> list[str]:
        with self.store.lock:
            return self.store.check_invariants() + self.library.check_invariants()

    # --- files and vector stores ---------------------------------------------------------

    def _forget_code_interpreter_file(self, file_id: str) -> None:
        """A deleted file leaves every assistant's and thread's code_interpreter files."""
        for owner in (*self.store.assistants, *self.store.threads):
            code = owner["tool_resources"].get("code_interpreter")
            if code is not None and file_id in code["file_ids"]:
                code["file_ids"] = [i for i in code["file_ids"] if i != file_id]

    def files(self) -> list[Obj]:
        """Copies of every file, oldest first."""
        with self.store.lock:
            return clone([f for f in self.library.files.values() if self.library.file(f["id"])])

    def file_data(self, file_id: str) -> bytes:
        """A file's bytes, whatever its purpose (KeyError for an unknown file)."""
        with self.store.lock:
            if self.library.file(file_id) is None:
                raise KeyError(f"no file {file_id!r}")
            return self.library.data[file_id]

    def vector_stores(self) -> list[Obj]:
        """Every vector store as the API shows it, oldest first (copies)."""
        with self.store.lock:
            stores = self.library.vector_stores
            return [stores.render(stores.stores[i]) for i in stores.order.ids()]
