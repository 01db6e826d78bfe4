"""In-memory emulator and test double of the OpenAI Assistants API (v2).

`with Emulator() as emu:` answers every httpx/httpx2 request to `https://api.openai.com/v1`
from plain dicts, with scripted responders, a controllable clock and token-aware truncation.
"""

from . import reply
from .clock import FrozenClock, RealClock
from .core import Emulator, RecordedRequest
from .errors import APIError
from .faults import Fault
from .models import ModelInfo, ModelRegistry
from .responders import (
    ContextMessage,
    Responder,
    Rules,
    RunContext,
    Script,
    ScriptExhausted,
    ToolResult,
    default_responder,
)
from .runs import ResponderError
from .snapshot import SnapshotError
from .tokens import TiktokenCounter, TokenCounter
from .truncation import MessageAccount, TruncationReport

__all__ = [
    "APIError",
    "ContextMessage",
    "Emulator",
    "Fault",
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
    "SnapshotError",
    "TiktokenCounter",
    "TokenCounter",
    "ToolResult",
    "TruncationReport",
    "default_responder",
    "reply",
]
