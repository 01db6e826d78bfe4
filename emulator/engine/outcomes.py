"""What a run's turns leave behind: the engine's bookkeeping of a run (`RunState`, kept in
snapshots), a turn's outcome (`Ending`, `ActionRequired` or `Continue`, applied by the status
machine in `runs`), a responder's error, and the usage a step and a run count."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..wire import objects
from ..wire.objects import Obj
from .responders import ToolResult
from .stream import Events
from .truncation import TruncationReport


@dataclass(slots=True)
class RunState:
    """Engine bookkeeping of one run that is not part of the wire object."""

    tool_results: list[ToolResult] = field(default_factory=list)
    new_results: int = 0
    pending_step_id: str | None = None
    pending_usage: tuple[int, int] = (0, 0)
    turn: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reports: list[TruncationReport] = field(default_factory=list)
    # built-in tool calls of the run, as plain data (snapshots keep them as they are)
    searches: list[Obj] = field(default_factory=list)
    code_calls: list[Obj] = field(default_factory=list)

    def seen(self) -> RunState:
        """A copy for a turn to read outside the lock: its own lists, no reports."""
        return RunState(
            tool_results=list(self.tool_results),
            new_results=self.new_results,
            pending_step_id=self.pending_step_id,
            pending_usage=self.pending_usage,
            turn=self.turn,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            searches=list(self.searches),
            code_calls=list(self.code_calls),
        )


@dataclass(frozen=True)
class ResponderError:
    """An exception a responder raised (or a reply it could not give); its run failed."""

    run_id: str
    error: BaseException


@dataclass(frozen=True)
class Ending:
    """A turn ends its run: terminal `status`, with an `incomplete_details` reason or an error."""

    status: str
    reason: str | None = None
    error: Obj | None = None


def failed(code: str, message: str) -> Ending:
    return Ending("failed", error={"code": code, "message": message})


@dataclass(frozen=True)
class ActionRequired:
    """A turn made function calls: the run waits for their outputs."""

    calls: list[Obj]


@dataclass(frozen=True)
class Continue:
    """A turn used a built-in tool: the run stays `in_progress` for its next turn."""


Outcome = Ending | ActionRequired | Continue


def complete_step(step: Obj, now: int, usage: tuple[int, int], events: Events) -> None:
    """A step is done; its usage is its turn's prompt and reply tokens."""
    step["status"] = "completed"
    step["completed_at"] = now
    step["usage"] = objects.usage(*usage)
    events("thread.run.step.completed", step)


def add_usage(state: RunState, prompt: int, completion: int) -> None:
    state.prompt_tokens += prompt
    state.completion_tokens += completion


def remaining_completion(run: Obj, state: RunState) -> int | None:
    limit = run["max_completion_tokens"]
    return None if limit is None else max(limit - state.completion_tokens, 0)
