"""Helpers for the Files and Vector Stores tests: schema checks with the documented deviations,
and SDK clients on every interception path."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
from openapi import assert_valid

# README "Fidelity": the recorded values the OpenAPI document's types reject, sent as recorded.
# Only these keys, and only when null, are left out of the schema check.
NULL_DEVIATIONS: dict[str, tuple[str, ...]] = {
    "OpenAIFile": ("expires_at", "status_details"),
    "VectorStoreObject": ("expires_after",),
}


def assert_conforms(schema: str, body: Any) -> None:
    """`assert_valid` with the documented null deviations of `schema` skipped."""
    skipped = NULL_DEVIATIONS.get(schema, ())
    assert_valid(schema, {k: v for k, v in body.items() if not (k in skipped and v is None)})


def raw(response: Any) -> Any:
    """The JSON body of a `with_raw_response` answer."""
    return json.loads(response.http_response.content)


def legacy_httpx_client() -> openai.OpenAI:
    """A client on plain httpx (intercepted through respx), whichever SDK line is installed."""
    return openai.OpenAI(api_key="sk-test", http_client=httpx.Client())


def message(error: openai.APIStatusError) -> str:
    """The error's own `message` (the SDK's `.message` adds `Error code: ...`)."""
    text: str = error.response.json()["error"]["message"]
    return text
