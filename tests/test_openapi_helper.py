"""The OpenAPI validation helper itself: it accepts conforming bodies and names violations."""

from __future__ import annotations

import pytest
from openapi import assert_valid, event_schema, violations

ASSISTANT = {
    "id": "asst_abc",
    "object": "assistant",
    "created_at": 1714000000,
    "name": None,
    "description": None,
    "model": "gpt-4o",
    "instructions": None,
    "tools": [],
    "metadata": {},
}


def test_a_conforming_body_passes() -> None:
    assert_valid("AssistantObject", ASSISTANT)


def test_violations_name_the_field() -> None:
    broken = {**ASSISTANT, "tools": [{"type": "function", "function": {"description": None}}]}

    problems = violations("AssistantObject", broken)

    assert problems and all(p.startswith("tools/0") for p in problems)
    with pytest.raises(AssertionError, match="AssistantObject"):
        assert_valid("AssistantObject", broken)


@pytest.mark.parametrize(
    ("event", "schema"),
    [
        ("thread.run.step.delta", "RunStepDeltaObject"),
        ("thread.run.step.completed", "RunStepObject"),
        ("thread.run.requires_action", "RunObject"),
        ("thread.message.delta", "MessageDeltaObject"),
        ("thread.message.completed", "MessageObject"),
        ("thread.created", "ThreadObject"),
        ("done", None),
    ],
)
def test_events_map_to_their_data_schema(event: str, schema: str | None) -> None:
    assert event_schema(event) == schema
