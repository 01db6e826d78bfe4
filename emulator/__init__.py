"""In-memory emulator and test double of the OpenAI Assistants API (v2).

`with Emulator() as emu:` answers every httpx/httpx2 request to `https://api.openai.com/v1`
from plain dicts, with scripted responders, a controllable clock and token-aware truncation.
"""

from typing import TYPE_CHECKING, Any

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
from .state.clock import FrozenClock, RealClock
from .state.snapshot import SnapshotError
from .wire.errors import APIError

if TYPE_CHECKING:
    from .http.server import ThreadedServer


def __getattr__(name: str) -> Any:
    """`ThreadedServer` is imported on first use: it brings uvicorn along."""
    if name == "ThreadedServer":
        from .http.server import ThreadedServer

        return ThreadedServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
