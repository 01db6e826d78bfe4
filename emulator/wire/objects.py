"""Builders of the wire objects, with the real service's keys, key order, defaults and quirks.

The shapes follow `shared/reference/real-traffic.md` §2, with the documented deviations that
make every object validate under the SDK's own types (messages carry `status` & co. in REST,
a run's `instructions` is always a string).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

Obj = dict[str, Any]  # a wire object: plain JSON data with the API's keys
T = TypeVar("T")
DEFAULT_TRUNCATION: Obj = {"type": "auto", "last_messages": None}


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def clone(value: T) -> T:
    """A deep copy of plain JSON data: an orjson round trip, about eight times faster than
    `copy.deepcopy` (and NaN becomes null, as rendering writes it). What orjson cannot write
    (integers beyond 64 bits, non-string keys) is copied by walking it."""
    try:
        return orjson.loads(orjson.dumps(value))  # type: ignore[no-any-return]
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _clone(value)  # type: ignore[no-any-return]


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _clone(item) for key, item in value.items()}
    if kind is list:
        return [_clone(item) for item in value]
    return value if kind in _IMMUTABLE else copy.deepcopy(value)


@dataclass(frozen=True)
class Page:
    """One page of a cursor list, rendered as `{"object": "list", ...}`."""

    data: list[Obj]
    has_more: bool

    def render(self) -> Obj:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.data[0]["id"] if self.data else None,
            "last_id": self.data[-1]["id"] if self.data else None,
            "has_more": self.has_more,
        }


def echo_tools(tools: list[Obj]) -> list[Obj]:
    """Tools as the server echoes them [RT §2; files-vector-stores.md §9.3].

    Functions get `strict: false` and default parameters, and no `description` key unless one
    was given (the specification has no null there). `file_search` gets the recorded ranking
    options and no `max_num_results` key unless one was given.
    """
    echoed: list[Obj] = []
    for tool in tools:
        tool = clone(tool)
        if tool["type"] == "function":
            function = tool["function"]
            shown: Obj = {"name": function["name"]}
            if function.get("description") is not None:
                shown["description"] = function["description"]
            shown["parameters"] = (
                function["parameters"]
                if function.get("parameters") is not None
                else {"type": "object", "properties": {}}
            )
            shown["strict"] = bool(function.get("strict") or False)
            tool["function"] = shown
        elif tool["type"] == "file_search":
            options = tool.get("file_search") or {}
            ranking = options.get("ranking_options") or {
                "ranker": "default_2024_08_21",
                "score_threshold": 0.0,
            }
            file_search: Obj = {}
            if options.get("max_num_results") is not None:
                file_search["max_num_results"] = options["max_num_results"]
            file_search["ranking_options"] = {
                "ranker": "default_2024_08_21",
                **ranking,
                "hybrid_search": None,
            }
            tool["file_search"] = file_search
        echoed.append(tool)
    return echoed


def tool_resources(resources: Obj | None, *, tools: Iterable[Obj] = ()) -> Obj:
    """Stored `tool_resources`: the parts that were given, `{}` when none.

    An assistant's `code_interpreter` / `file_search` tool gets an empty entry of its own, as the
    real service answers [RT §2]. A `vector_stores` helper arrives already turned into ids.
    """
    resources = resources or {}
    types = {tool["type"] for tool in tools}
    out: Obj = {}
    if resources.get("code_interpreter") is not None:
        out["code_interpreter"] = {
            "file_ids": list(resources["code_interpreter"].get("file_ids") or [])
        }
    elif "code_interpreter" in types:
        out["code_interpreter"] = {"file_ids": []}
    if resources.get("file_search") is not None:
        out["file_search"] = {
            "vector_store_ids": list(resources["file_search"].get("vector_store_ids") or [])
        }
    elif "file_search" in types:
        out["file_search"] = {"vector_store_ids": []}
    return out


def retrieved_thread(thread: Obj) -> Obj:
    """A thread as `GET /threads/{id}` shows it: with `code_interpreter` always present [RT §2]."""
    resources = {"code_interpreter": {"file_ids": []}, **thread["tool_resources"]}
    return {**thread, "tool_resources": clone(resources)}


def assistant(assistant_id: str, created_at: int, body: Obj) -> Obj:
    return {
        "id": assistant_id,
        "object": "assistant",
        "created_at": created_at,
        "name": body.get("name"),
        "description": body.get("description"),
        "model": body["model"],
        "instructions": body.get("instructions"),
        "tools": echo_tools(body.get("tools") or []),
        "top_p": float(body["top_p"]) if body.get("top_p") is not None else 1.0,
        "temperature": float(body["temperature"]) if body.get("temperature") is not None else 1.0,
        "reasoning_effort": body.get("reasoning_effort"),
        "tool_resources": tool_resources(body.get("tool_resources"), tools=body.get("tools") or []),
        "metadata": dict(body.get("metadata") or {}),
        "response_format": body.get("response_format") or "auto",
    }


def thread(thread_id: str, created_at: int, body: Obj) -> Obj:
    return {
        "id": thread_id,
        "object": "thread",
        "created_at": created_at,
        "metadata": dict(body.get("metadata") or {}),
        "tool_resources": tool_resources(body.get("tool_resources")),
    }


def content_parts(content: str | list[Obj]) -> list[Obj]:
    """Request content (a string or parts with `text` strings) as stored message content."""
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[Obj] = []
    for part in content:
        if part["type"] == "text":
            parts.append(text_part(part["text"]))
        else:
            image = {**part[part["type"]]}
            image["detail"] = image.get("detail") or "auto"
            parts.append({"type": part["type"], part["type"]: image})
    return parts


def text_part(value: str, annotations: list[Obj] | None = None) -> Obj:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def message(
    message_id: str,
    created_at: int,
    *,
    thread_id: str,
    role: str,
    content: list[Obj],
    assistant_id: str | None = None,
    run_id: str | None = None,
    attachments: list[Obj] | None = None,
    metadata: Obj | None = None,
    status: str = "completed",
) -> Obj:
    return {
        "id": message_id,
        "object": "thread.message",
        "created_at": created_at,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "status": status,
        "incomplete_details": None,
        "incomplete_at": None,
        "completed_at": created_at if status == "completed" else None,
        "role": role,
        "content": content,
        "attachments": attachments if attachments is not None else [],
        "metadata": dict(metadata or {}),
    }


def run(run_id: str, created_at: int, *, thread_id: str, assistant: Obj, body: Obj) -> Obj:
    """A new `queued` run; the run's own overrides win over the assistant's settings."""
    instructions = body.get("instructions")
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    if body.get("additional_instructions"):
        instructions = f"{instructions}\n\n{body['additional_instructions']}".lstrip("\n")
    tools = body.get("tools")
    return {
        "id": run_id,
        "object": "thread.run",
        "created_at": created_at,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": created_at + 600,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "model": body.get("model") or assistant["model"],
        "instructions": instructions,
        "tools": echo_tools(tools) if tools is not None else clone(assistant["tools"]),
        "tool_resources": {},
        "metadata": dict(body.get("metadata") or {}),
        "temperature": _number(body.get("temperature"), assistant["temperature"]),
        "top_p": _number(body.get("top_p"), assistant["top_p"]),
        "reasoning_effort": body.get("reasoning_effort", assistant.get("reasoning_effort")),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "truncation_strategy": body.get("truncation_strategy") or dict(DEFAULT_TRUNCATION),
        "incomplete_details": None,
        "usage": None,
        "response_format": body.get("response_format") or assistant["response_format"],
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
    }


def _number(value: Any, default: Any) -> float | None:
    chosen = value if value is not None else default
    return float(chosen) if chosen is not None else None


def step(
    step_id: str,
    created_at: int,
    *,
    run: Obj,
    step_details: Obj,
) -> Obj:
    """A new `in_progress` run step of the run; `type` follows its details."""
    return {
        "id": step_id,
        "object": "thread.run.step",
        "created_at": created_at,
        "run_id": run["id"],
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "type": step_details["type"],
        "status": "in_progress",
        "cancelled_at": None,
        "completed_at": None,
        "expires_at": run["expires_at"],
        "failed_at": None,
        "last_error": None,
        "step_details": step_details,
        "usage": None,
        "expired_at": None,
        "metadata": {},
    }


def usage(prompt_tokens: int, completion_tokens: int) -> Obj:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def deleted(object_id: str, kind: str) -> Obj:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


def model(model_id: str, created: int, owned_by: str = "system") -> Obj:
    """A `/models` entry: the SDK's `Model` type (id, object, created, owned_by)."""
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}
