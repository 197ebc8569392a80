"""What happens to an instance from outside: the events the interpreter is fed.

Each brings its time (`at`), since the engine has no clock, and a `kind` so that a
list of them (the events deferred while an instance is suspended) survives JSON.
"""

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field


class StartInstance(BaseModel):
    kind: Literal["start_instance"] = "start_instance"
    variables: dict[str, Any] = Field(default_factory=dict)
    initiator: str | None = None
    at: AwareDatetime


class CompleteTask(BaseModel):
    kind: Literal["complete_task"] = "complete_task"
    task_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    at: AwareDatetime


class TimerFired(BaseModel):
    """A timer started by `StartTimer` is due."""

    kind: Literal["timer_fired"] = "timer_fired"
    timer_id: str
    at: AwareDatetime


class ServiceCompleted(BaseModel):
    """The action of `RunService` returned `result` (JSON)."""

    kind: Literal["service_completed"] = "service_completed"
    job_id: str
    result: Any = None
    at: AwareDatetime


class ServiceFailed(BaseModel):
    """The action of `RunService` failed for good: its attempts are spent, or the error
    is non-retryable."""

    kind: Literal["service_failed"] = "service_failed"
    job_id: str
    error_code: str | None = None
    message: str
    at: AwareDatetime


class ChildCompleted(BaseModel):
    """The child instance of `StartChild` completed with these final variables."""

    kind: Literal["child_completed"] = "child_completed"
    child_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    at: AwareDatetime


class ChildFailed(BaseModel):
    """The child instance of `StartChild` ended without completing (failed, cancelled,
    terminated); `error_code` lets an errorBoundary with that code catch it."""

    kind: Literal["child_failed"] = "child_failed"
    child_id: str
    error_code: str | None = None
    message: str
    at: AwareDatetime


class MessageReceived(BaseModel):
    kind: Literal["message_received"] = "message_received"
    name: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    at: AwareDatetime


class RetryIncident(BaseModel):
    """Redo what failed at every node in an incident."""

    kind: Literal["retry_incident"] = "retry_incident"
    actor: str | None = None
    at: AwareDatetime


class Suspend(BaseModel):
    kind: Literal["suspend"] = "suspend"
    actor: str | None = None
    reason: str | None = None
    at: AwareDatetime


class Resume(BaseModel):
    kind: Literal["resume"] = "resume"
    actor: str | None = None
    at: AwareDatetime


class Cancel(BaseModel):
    kind: Literal["cancel"] = "cancel"
    actor: str | None = None
    reason: str | None = None
    at: AwareDatetime


class SetVariables(BaseModel):
    """Merge variables into the instance's, from outside any task."""

    kind: Literal["set_variables"] = "set_variables"
    variables: dict[str, Any]
    actor: str | None = None
    at: AwareDatetime


# What the outside world reports on work the instance started. While the instance is
# suspended or in an incident these are kept and applied later, since the work they
# report on happened regardless; the rest are refused instead.
Deferrable = Annotated[
    TimerFired | ServiceCompleted | ServiceFailed | ChildCompleted | ChildFailed,
    Field(discriminator="kind"),
]
DEFERRABLE = (TimerFired, ServiceCompleted, ServiceFailed, ChildCompleted, ChildFailed)

# Every event after the start, which `interpreter.handle` takes.
Event = Annotated[
    CompleteTask
    | TimerFired
    | ServiceCompleted
    | ServiceFailed
    | ChildCompleted
    | ChildFailed
    | MessageReceived
    | RetryIncident
    | Suspend
    | Resume
    | Cancel
    | SetVariables,
    Field(discriminator="kind"),
]
