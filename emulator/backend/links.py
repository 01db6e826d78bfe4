"""How files and vector stores reach assistants and threads (files-vector-stores.md §9.1-§9.2).

`tool_resources` name existing stores and files (unknown ids are the real 404s); the
`vector_stores` shortcut makes a real store (a thread's expires 7 days after its last activity);
message `attachments` put file_search files into the thread's store (made on first need) and
code_interpreter files into the thread's file list. Every check runs before anything changes:
`check_*` first, then `make_*`/`attach_*`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..retrieval import parse_chunking_strategy
from ..wire.errors import InvalidRequestError
from ..wire.objects import Obj, clone
from .base import Resource

THREAD_STORE_EXPIRY: Obj = {"anchor": "last_active_at", "days": 7}
"""Thread vector stores expire 7 days after their last activity (File Search guide)."""
MAX_CODE_INTERPRETER_FILES = 20


def check_tool_resources(resource: Resource, data: Obj) -> None:
    """Every store and file `tool_resources` names exists (the shortcut's files are
    retrievable, its chunking strategy valid), else the 404/400."""
    resources = data.get("tool_resources")
    if not resources:
        return
    code = resources.get("code_interpreter") or {}
    resource.check_files(list(code.get("file_ids") or []))
    file_search = resources.get("file_search") or {}
    helpers = file_search.get("vector_stores") or []
    if helpers and file_search.get("vector_store_ids"):
        raise InvalidRequestError(
            "Invalid 'tool_resources.file_search': provide either 'vector_store_ids' or "
            "'vector_stores', not both.",
            param="tool_resources.file_search",
        )
    for store_id in file_search.get("vector_store_ids") or []:
        resource.vector_store(store_id)
    for i, helper in enumerate(helpers):
        parse_chunking_strategy(
            helper.get("chunking_strategy"),
            param=f"tool_resources.file_search.vector_stores[{i}].chunking_strategy",
        )
        file_ids = list(helper.get("file_ids") or [])
        resource.check_files(file_ids)
        resource.library.check_retrievable(file_ids)


def make_vector_stores(resource: Resource, data: Obj, *, expires_after: Obj | None) -> None:
    """Turn a checked `file_search.vector_stores` shortcut into a new store's id."""
    resources = data.get("tool_resources")
    if not resources:
        return
    file_search = resources.get("file_search") or {}
    helpers = file_search.pop("vector_stores", None) or []
    ids: list[str] = []
    for helper in helpers:
        store = resource.library.create_store(
            file_ids=list(helper.get("file_ids") or []),
            strategy=parse_chunking_strategy(helper.get("chunking_strategy")),
            expires_after=expires_after,
            metadata=helper.get("metadata"),
        )
        resource.claim(store["id"])
        ids.append(store["id"])
    if helpers:
        file_search["vector_store_ids"] = ids


def _by_tool(attachments: Iterable[Obj], tool: str) -> list[str]:
    found: list[str] = []
    for attachment in attachments:
        types = {t.get("type") for t in attachment.get("tools") or []}
        if tool in types and attachment["file_id"] not in found:
            found.append(attachment["file_id"])
    return found


def check_attachments(resource: Resource, thread: Obj | None, messages: Iterable[Obj]) -> None:
    """The attachments of messages about to join `thread` (None: a thread being created)."""
    attachments = [a for m in messages for a in m.get("attachments") or []]
    if not attachments:
        return
    resource.check_files(list(dict.fromkeys(a["file_id"] for a in attachments)))
    searched = _by_tool(attachments, "file_search")
    resource.library.check_retrievable(searched)
    resources = (thread or {}).get("tool_resources") or {}
    if searched:
        for store_id in (resources.get("file_search") or {}).get("vector_store_ids") or []:
            store = resource.library.vector_stores.get(store_id)
            if store is not None and resource.library.vector_stores.expired(store):
                raise InvalidRequestError(f"Vector store '{store_id}' has expired.")
    code = (resources.get("code_interpreter") or {}).get("file_ids") or []
    total = len(dict.fromkeys([*code, *_by_tool(attachments, "code_interpreter")]))
    if total > MAX_CODE_INTERPRETER_FILES:
        raise InvalidRequestError(
            "Invalid 'attachments': a thread's code_interpreter holds at most "
            f"{MAX_CODE_INTERPRETER_FILES} files, but these attachments would bring it to "
            f"{total}.",
            param="attachments",
            code="array_above_max_length",
        )


def attach_files(resource: Resource, thread: Obj, attachments: Iterable[Obj]) -> None:
    """Add checked attachments to the thread's store and code_interpreter files."""
    attachments = list(attachments)
    resources = thread["tool_resources"]
    searched = _by_tool(attachments, "file_search")
    if searched:
        file_search = resources.setdefault("file_search", {"vector_store_ids": []})
        library = resource.library
        store_ids = [i for i in file_search["vector_store_ids"] if library.vector_stores.get(i)]
        if not store_ids:
            store = library.create_store(
                strategy=parse_chunking_strategy(None), expires_after=THREAD_STORE_EXPIRY
            )
            resource.claim(store["id"])
            store_ids = [store["id"]]
            file_search["vector_store_ids"] = store_ids
        strategy = parse_chunking_strategy(None)
        for file_id in searched:
            library.attach(store_ids[0], file_id, strategy, {})
    code = _by_tool(attachments, "code_interpreter")
    if code:
        entry = resources.setdefault("code_interpreter", {"file_ids": []})
        entry["file_ids"] = list(dict.fromkeys([*entry["file_ids"], *code]))


def _nothing() -> None:
    pass


def attach_files_undoably(
    resource: Resource, thread: Obj, attachments: Iterable[Obj]
) -> Callable[[], None]:
    """`attach_files`, returning what puts the thread and the stores back as they were (for a
    run whose `additional_messages` carried attachments and which is then refused). Without
    attachments there is nothing to attach, so nothing is saved."""
    attachments = list(attachments)
    if not attachments:
        return _nothing
    library = resource.library
    saved = clone(thread["tool_resources"])
    stores_before = set(library.vector_stores.stores)
    files_before = {
        store_id: {f["id"] for f in store.files}
        for store_id, store in library.vector_stores.stores.items()
    }
    attach_files(resource, thread, attachments)

    def undo() -> None:
        thread["tool_resources"] = saved
        forget_new_stores(resource, stores_before)
        for store_id, before in files_before.items():
            store = library.vector_stores.get(store_id)
            for file_id in [f["id"] for f in store.files] if store else []:
                if file_id not in before:
                    library.vector_stores.detach(store, file_id)  # type: ignore[arg-type]

    return undo


def forget_new_stores(resource: Resource, before: set[str]) -> None:
    """Delete the stores made since `before` (a refused request leaves none behind)."""
    for store_id in set(resource.library.vector_stores.stores) - before:
        resource.library.delete_store(store_id)
        resource.store.owner.pop(store_id, None)
