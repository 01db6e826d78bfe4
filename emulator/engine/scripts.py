"""The script format: replies and rules as JSON, one parser for files, the CLI and the control API.

```json
{"replies": ["Hi!", {"tool_call": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
 "rules": [{"pattern": "weather", "then": [{"tool_call": {"name": "get_weather"}}, "Sunny."]}],
 "assistant": "Weather bot"}
```

`replies` are given in order across runs (a `Script`); `rules` answer by pattern, and when none
matches the replies (if any) answer; `assistant` (an id or name) limits the responder to that
assistant's runs. A bare list is the replies. `emulator/examples/script.schema.json` is the JSON
Schema of this format; `responders.from_script` builds the responder. Every mistake is a
`ScriptFormatError` naming where it is (`replies[2]`, `rules[0].then`) and, for a file, which.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import reply

__all__ = ["RuleData", "ScriptData", "ScriptFormatError", "load", "parse"]

KEYS = ("replies", "rules", "assistant")
RULE_KEYS = ("pattern", "assistant", "then")


class ScriptFormatError(ValueError):
    """A script that does not follow the format; `param` says where (`replies[2]`)."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_value"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class RuleData:
    """One rule: `then` (a reply, or replies given one per matching turn of each run) answers
    when the newest user message matches `pattern` and the assistant is `assistant`."""

    pattern: re.Pattern[str] | None
    assistant: str | None
    then: reply.Reply | tuple[reply.Reply, ...]


@dataclass(frozen=True)
class ScriptData:
    """A checked script (`responders.from_script` makes the responder it describes)."""

    replies: tuple[reply.Reply, ...] | None
    rules: tuple[RuleData, ...] | None
    assistant: str | None = None


def parse(data: Any) -> ScriptData:
    """Check a script (decoded JSON); a mistake is a `ScriptFormatError` saying where."""
    if isinstance(data, list):
        data = {"replies": data}
    if not isinstance(data, Mapping):
        raise _type_error("script", "an object with 'replies' or 'rules' (or a list)", data)
    for key in data:
        if key not in KEYS:
            raise ScriptFormatError(
                f"Unknown parameter: '{key}'.",
                param=str(key),
                code="unknown_parameter",
            )
    replies, rules, assistant = data.get("replies"), data.get("rules"), data.get("assistant")
    if replies is None and rules is None:
        raise ScriptFormatError(
            "Missing required parameter: 'replies' (or 'rules').",
            param="replies",
            code="missing_required_parameter",
        )
    if assistant is not None and not isinstance(assistant, str):
        raise _type_error("assistant", "a string (an assistant id or name)", assistant)
    return ScriptData(
        None if replies is None else tuple(_replies(replies, "replies")),
        None if rules is None else _rules(rules),
        assistant,
    )


def load(path: str | Path) -> ScriptData:
    """Parse a JSON script file; errors name the file and the place in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScriptFormatError(f"{path}: cannot read the script ({error.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ScriptFormatError(f"{path}: not JSON ({error})") from None
    try:
        return parse(data)
    except ScriptFormatError as error:
        where = f" at {error.param}" if error.param else ""
        raise ScriptFormatError(
            f"{path}{where}: {error.message}", param=error.param, code=error.code
        ) from None


def _replies(items: Any, param: str) -> list[reply.Reply]:
    if not isinstance(items, list):
        raise _type_error(param, "an array of replies", items)
    return [_reply(item, f"{param}[{n}]") for n, item in enumerate(items)]


def _reply(item: Any, param: str) -> reply.Reply:
    try:
        return reply.from_data(item)
    except (ValueError, TypeError) as error:
        raise ScriptFormatError(f"Invalid '{param}': {error}", param=param) from None


def _rules(items: Any) -> tuple[RuleData, ...]:
    if not isinstance(items, list):
        raise _type_error("rules", "an array of rules", items)
    rules: list[RuleData] = []
    for n, rule in enumerate(items):
        param = f"rules[{n}]"
        if not isinstance(rule, Mapping):
            raise _type_error(param, "an object with 'then' (and 'pattern', 'assistant')", rule)
        for key in rule:
            if key not in RULE_KEYS:
                raise ScriptFormatError(
                    f"Unknown parameter: '{param}.{key}'.",
                    param=f"{param}.{key}",
                    code="unknown_parameter",
                )
        pattern, assistant = rule.get("pattern"), rule.get("assistant")
        if pattern is not None and not isinstance(pattern, str):
            raise _type_error(f"{param}.pattern", "a string (a regular expression)", pattern)
        if assistant is not None and not isinstance(assistant, str):
            raise _type_error(f"{param}.assistant", "a string (an id or name)", assistant)
        try:
            regex = re.compile(pattern) if pattern is not None else None
        except re.error as error:
            raise ScriptFormatError(
                f"Invalid '{param}.pattern': not a regular expression ({error}).",
                param=f"{param}.pattern",
            ) from None
        if "then" not in rule:
            raise ScriptFormatError(
                f"Missing required parameter: '{param}.then'.",
                param=f"{param}.then",
                code="missing_required_parameter",
            )
        then: Any = rule["then"]
        if isinstance(then, list):
            if not then:
                raise ScriptFormatError(
                    f"Invalid '{param}.then': expected at least one reply.", param=f"{param}.then"
                )
            then = tuple(_replies(then, f"{param}.then"))
        else:
            then = _reply(then, f"{param}.then")
        rules.append(RuleData(regex, assistant, then))
    return tuple(rules)


def _type_error(param: str, expected: str, got: Any) -> ScriptFormatError:
    return ScriptFormatError(
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(got)} instead.",
        param=param,
        code="invalid_type",
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
