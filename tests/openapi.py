"""Validate response bodies and SSE event data against the official OpenAPI schemas.

`openapi-files-assistants.json` beside this file is the subset of the official OpenAPI document
(openai/openai-openapi, MIT licence) covering every Files, Vector Stores and Assistants operation,
copied unchanged from the project's reference; its `info.x-subset-of` names the source commit and
`info.x-subset-changes` the two edits that make it a valid JSON Schema 2020-12 resource.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = json.loads(Path(__file__).with_name("openapi-files-assistants.json").read_text())
_URI = "urn:openai:openapi-files-assistants"
_REGISTRY: Registry[Any] = Registry().with_resource(
    _URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)

# The data schema of each server-sent event, by event name (prefix match, most specific first).
EVENT_SCHEMAS: tuple[tuple[str, str], ...] = (
    ("thread.run.step.delta", "RunStepDeltaObject"),
    ("thread.run.step.", "RunStepObject"),
    ("thread.run.", "RunObject"),
    ("thread.message.delta", "MessageDeltaObject"),
    ("thread.message.", "MessageObject"),
    ("thread.created", "ThreadObject"),
)


@functools.cache
def _validator(schema: str) -> Draft202012Validator:
    if schema not in DOCUMENT["components"]["schemas"]:
        raise KeyError(f"no schema {schema!r} in the OpenAPI subset")
    ref = {"$ref": f"{_URI}#/components/schemas/{schema}"}
    return Draft202012Validator(ref, registry=_REGISTRY)


def violations(schema: str, body: Any) -> list[str]:
    """Every way `body` breaks the named component schema (empty when it conforms)."""
    errors = sorted(_validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def assert_valid(schema: str, body: Any) -> None:
    """Fail with every violation when `body` does not conform to the named schema."""
    problems = violations(schema, body)
    assert not problems, f"{schema}: " + "; ".join(problems)


def event_schema(event: str) -> str | None:
    """The data schema of a server-sent event (`None` for `done` and `error`)."""
    for prefix, schema in EVENT_SCHEMAS:
        if event == prefix or (prefix.endswith(".") and event.startswith(prefix)):
            return schema
    return None


def assert_valid_event(event: str, data: Any) -> None:
    """Fail when a server-sent event's data does not conform to its schema."""
    schema = event_schema(event)
    if schema is not None:
        assert_valid(schema, data)
