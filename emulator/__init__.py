"""In-memory emulator and test double of the OpenAI Assistants API (v2).

`with Emulator() as emu:` answers every httpx/httpx2 request to `https://api.openai.com/v1`
from plain dicts, with scripted responders, a controllable clock and token-aware truncation.

The names below are imported on first use (PEP 562): the pytest plugin imports this package in
every pytest session, and pydantic, httpx, respx and tiktoken should cost only the sessions that
use the emulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator, RecordedRequest
    from .engine import reply
    from .engine.forward import Forward, forward
    from .engine.models import ModelInfo, ModelRegistry
    from .engine.outcomes import ResponderError
    from .engine.responders import (
        CodeInterpreterCall,
        ContextMessage,
        FileSearchCall,
        Responder,
        Rules,
        RunContext,
        Script,
        ScriptExhausted,
        ToolResult,
        default_responder,
        load_script,
    )
    from .engine.scripts import ScriptFormatError
    from .engine.tiktoken_cache import offline_tiktoken
    from .engine.tokens import TiktokenCounter, TokenCounter
    from .engine.truncation import MessageAccount, TruncationReport
    from .http.faults import Fault
    from .http.server import ThreadedServer
    from .state.clock import FrozenClock, RealClock
    from .state.snapshot import SnapshotError
    from .wire.errors import APIError

# Public name -> the module (relative to this package) that defines it. The imports above say the
# same to type checkers; tests/test_plugin_cost.py keeps the two in step.
_SOURCES = {
    "APIError": ".wire.errors",
    "CodeInterpreterCall": ".engine.responders",
    "ContextMessage": ".engine.responders",
    "Emulator": ".emulator",
    "Fault": ".http.faults",
    "FileSearchCall": ".engine.responders",
    "Forward": ".engine.forward",
    "FrozenClock": ".state.clock",
    "MessageAccount": ".engine.truncation",
    "ModelInfo": ".engine.models",
    "ModelRegistry": ".engine.models",
    "RealClock": ".state.clock",
    "RecordedRequest": ".emulator",
    "Responder": ".engine.responders",
    "ResponderError": ".engine.outcomes",
    "Rules": ".engine.responders",
    "RunContext": ".engine.responders",
    "Script": ".engine.responders",
    "ScriptExhausted": ".engine.responders",
    "ScriptFormatError": ".engine.scripts",
    "SnapshotError": ".state.snapshot",
    "ThreadedServer": ".http.server",
    "TiktokenCounter": ".engine.tokens",
    "TokenCounter": ".engine.tokens",
    "ToolResult": ".engine.responders",
    "TruncationReport": ".engine.truncation",
    "default_responder": ".engine.responders",
    "forward": ".engine.forward",
    "load_script": ".engine.responders",
    "offline_tiktoken": ".engine.tiktoken_cache",
    "reply": ".engine",
}

__all__ = [
    "APIError",
    "CodeInterpreterCall",
    "ContextMessage",
    "Emulator",
    "Fault",
    "FileSearchCall",
    "Forward",
    "FrozenClock",
    "MessageAccount",
    "ModelInfo",
    "ModelRegistry",
    "RealClock",
    "RecordedRequest",
    "Responder",
    "ResponderError",
    "Rules",
    "RunContext",
    "Script",
    "ScriptExhausted",
    "ScriptFormatError",
    "SnapshotError",
    "ThreadedServer",
    "TiktokenCounter",
    "TokenCounter",
    "ToolResult",
    "TruncationReport",
    "default_responder",
    "forward",
    "load_script",
    "offline_tiktoken",
    "reply",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first access and kept here afterwards."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(source, __name__)
    try:
        value = getattr(module, name)
    except AttributeError:  # a submodule, as `from .engine import reply` finds it
        value = importlib.import_module(f"{source}.{name}", __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
