"""`/vector_stores` routes: stores, search, their files and file batches."""

from __future__ import annotations

from ...wire import vector_store_requests as schemas
from ...wire.objects import Obj, Page
from .base import Call, Route


def _vs(call: Call) -> str:
    return call.params["vector_store_id"]


def create_vector_store(call: Call) -> Obj:
    return call.backend.vector_stores.create(call.body(schemas.CreateVectorStore))


def list_vector_stores(call: Call) -> Page:
    return call.backend.vector_stores.list(call.query())


def get_vector_store(call: Call) -> Obj:
    return call.backend.vector_stores.get(_vs(call))


def modify_vector_store(call: Call) -> Obj:
    body = call.body(schemas.ModifyVectorStore)
    return call.backend.vector_stores.modify(_vs(call), body)


def delete_vector_store(call: Call) -> Obj:
    return call.backend.vector_stores.delete(_vs(call))


def search_vector_store(call: Call) -> Obj:
    return call.backend.vector_stores.search(_vs(call), call.json())


def create_vector_store_file(call: Call) -> Obj:
    body = call.body(schemas.CreateVectorStoreFile)
    return call.backend.vector_stores.create_file(_vs(call), body)


def list_vector_store_files(call: Call) -> Page:
    return call.backend.vector_stores.list_files(
        _vs(call), call.query(), call.query_value("filter")
    )


def get_vector_store_file(call: Call) -> Obj:
    return call.backend.vector_stores.get_file(_vs(call), call.params["file_id"])


def update_vector_store_file(call: Call) -> Obj:
    body = call.body(schemas.UpdateVectorStoreFile)
    return call.backend.vector_stores.update_file(_vs(call), call.params["file_id"], body)


def delete_vector_store_file(call: Call) -> Obj:
    return call.backend.vector_stores.delete_file(_vs(call), call.params["file_id"])


def vector_store_file_content(call: Call) -> Obj:
    return call.backend.vector_stores.file_content(_vs(call), call.params["file_id"])


def create_file_batch(call: Call) -> Obj:
    body = call.body(schemas.CreateFileBatch)
    return call.backend.vector_stores.create_batch(_vs(call), body)


def get_file_batch(call: Call) -> Obj:
    return call.backend.vector_stores.get_batch(_vs(call), call.params["batch_id"])


def cancel_file_batch(call: Call) -> Obj:
    return call.backend.vector_stores.cancel_batch(_vs(call), call.params["batch_id"])


def list_file_batch_files(call: Call) -> Page:
    return call.backend.vector_stores.list_batch_files(
        _vs(call), call.params["batch_id"], call.query(), call.query_value("filter")
    )


_V = r"/vector_stores/(?P<vector_store_id>[^/]+)"
_F = r"(?P<file_id>[^/]+)"
_B = r"(?P<batch_id>[^/]+)"
ROUTES: list[Route] = [
    ("POST", r"/vector_stores", create_vector_store),
    ("GET", r"/vector_stores", list_vector_stores),
    ("POST", rf"{_V}/search", search_vector_store),
    ("POST", rf"{_V}/files", create_vector_store_file),
    ("GET", rf"{_V}/files", list_vector_store_files),
    ("GET", rf"{_V}/files/{_F}/content", vector_store_file_content),
    ("GET", rf"{_V}/files/{_F}", get_vector_store_file),
    ("POST", rf"{_V}/files/{_F}", update_vector_store_file),
    ("DELETE", rf"{_V}/files/{_F}", delete_vector_store_file),
    ("POST", rf"{_V}/file_batches", create_file_batch),
    ("GET", rf"{_V}/file_batches/{_B}/files", list_file_batch_files),
    ("POST", rf"{_V}/file_batches/{_B}/cancel", cancel_file_batch),
    ("GET", rf"{_V}/file_batches/{_B}", get_file_batch),
    ("GET", rf"{_V}", get_vector_store),
    ("POST", rf"{_V}", modify_vector_store),
    ("DELETE", rf"{_V}", delete_vector_store),
]
