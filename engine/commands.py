"""What the caller carries out after a transition, in order: the read model, the inbox,
history, and the durable work (timers, service actions, child instances).

Each command has a `kind`, so a list of them survives JSON as the union it is.
"""

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from engine.enums import HistoryEventType, TaskStatus
from engine.retries import RetrySpec
from engine.state import InstanceState


class CreateTask(BaseModel):
    kind: Literal["create_task"] = "create_task"
    task_id: str
    node_id: str
    name: str
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    priority: int
    due_at: datetime | None
    form: dict[str, Any] | None


class CloseTask(BaseModel):
    kind: Literal["close_task"] = "close_task"
    task_id: str
    status: TaskStatus
    actor: str | None


class AppendHistory(BaseModel):
    kind: Literal["append_history"] = "append_history"
    seq: int  # with the instance id, the idempotency key of the history row
    type: HistoryEventType
    at: datetime
    node_id: str | None
    task_id: str | None
    actor: str | None
    data: dict[str, Any]


class RaiseIncident(BaseModel):
    kind: Literal["raise_incident"] = "raise_incident"
    node_id: str
    message: str


class StartTimer(BaseModel):
    """Send `TimerFired(timer_id)` at `fire_at`, at once if that has passed."""

    kind: Literal["start_timer"] = "start_timer"
    timer_id: str
    node_id: str
    fire_at: datetime


class CancelTimer(BaseModel):
    kind: Literal["cancel_timer"] = "cancel_timer"
    timer_id: str


class RunService(BaseModel):
    """Run `action` with `input`, then send `ServiceCompleted(job_id, result)`, or
    `ServiceFailed` once the attempts are spent or the error is non-retryable. The
    engine applies `output` itself; it is here for the record."""

    kind: Literal["run_service"] = "run_service"
    job_id: str
    node_id: str
    action: str
    input: dict[str, Any]
    output: dict[str, str] | None
    retry: RetrySpec
    timeout: timedelta | None


class CancelService(BaseModel):
    kind: Literal["cancel_service"] = "cancel_service"
    job_id: str


class StartChild(BaseModel):
    """Start the definition `key` (its latest version unless `version`) as a child
    instance with `variables`; send `ChildCompleted` or `ChildFailed` when it ends."""

    kind: Literal["start_child"] = "start_child"
    child_id: str
    node_id: str
    key: str
    version: int | None
    variables: dict[str, Any]


class CancelChild(BaseModel):
    kind: Literal["cancel_child"] = "cancel_child"
    child_id: str


Command = Annotated[
    CreateTask
    | CloseTask
    | AppendHistory
    | RaiseIncident
    | StartTimer
    | CancelTimer
    | RunService
    | CancelService
    | StartChild
    | CancelChild,
    Field(discriminator="kind"),
]


class Transition(BaseModel):
    """The state after an event, and what to carry out for it (none: nothing happened)."""

    state: InstanceState
    commands: list[Command]
