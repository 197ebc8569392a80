"""Everything that crosses Temporal between `ProcessWorkflow`, its clients and its
activities: the names of the workflow, its updates, its query and its activities, and
the one input and output type of each.

It lives in the pure core because every side imports it: the API (which may not import
the worker), the activities, and the workflow (which may import nothing but temporalio
and engine). The payloads are JSON through Temporal's pydantic converter and are kept in
recorded histories: a field renamed here must still read what was recorded
(tests/test_replay.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from engine.enums import InstanceStatus
from engine.events import (
    Cancel,
    Event,
    MessageReceived,
    Resume,
    RetryIncident,
    SetVariables,
    Suspend,
)
from engine.interpreter import Command

WORKFLOW_NAME = "ProcessWorkflow"
# Updates: the caller waits for the transition to be written.
UPDATE_STARTED = "started"
UPDATE_COMPLETE_TASK = "complete_task"
UPDATE_CONTROL = "control"
QUERY_LIVE_STATE = "live_state"
# Activities.
ACTIVITY_APPLY_TRANSITION = "apply_transition"
ACTIVITY_RUN_ACTION = "run_action"
ACTIVITY_RESOLVE_DEFINITION = "resolve_definition"
# The built-in actions that compute without I/O: the workflow runs them as local
# activities (workers/workflow.py), the rest as heartbeating activities.
COMPUTING_ACTIONS = frozenset({"set", "log"})


def workflow_id(instance_id: str) -> str:
    """One workflow per instance, named after it so any process can find it."""
    return f"instance-{instance_id}"


class ProcessInput(BaseModel):
    """The workflow's input: the pinned definition travels with it, so a redeploy of
    the key never changes a running instance."""

    instance_id: str
    definition_id: str
    spec: dict[str, Any]
    variables: dict[str, Any] = Field(default_factory=dict)
    business_key: str | None = None
    initiator: str | None = None
    initiator_id: str | None = None
    parent_instance_id: str | None = None
    # startProcess's idempotency key, stored with the instance by its first step.
    request_id: str | None = None


class ProcessResult(BaseModel):
    """How an instance ended, and its variables then: what a parent's call activity maps."""

    status: InstanceStatus
    variables: dict[str, Any] = Field(default_factory=dict)


class CompleteTaskInput(BaseModel):
    """The `complete_task` update's input; the update's id is the task id."""

    task_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    actor_id: str | None = None


# The `control` update's events, one type per kind. They are the engine's events less
# their time, which the workflow sets when it takes one (`event(at)`).


class SuspendRequest(BaseModel):
    kind: Literal["suspend"] = "suspend"
    actor: str | None = None
    reason: str | None = None

    def event(self, at: datetime) -> Event:
        return Suspend(actor=self.actor, reason=self.reason, at=at)


class ResumeRequest(BaseModel):
    kind: Literal["resume"] = "resume"
    actor: str | None = None

    def event(self, at: datetime) -> Event:
        return Resume(actor=self.actor, at=at)


class CancelRequest(BaseModel):
    kind: Literal["cancel"] = "cancel"
    actor: str | None = None
    reason: str | None = None

    def event(self, at: datetime) -> Event:
        return Cancel(actor=self.actor, reason=self.reason, at=at)


class RetryIncidentRequest(BaseModel):
    kind: Literal["retry_incident"] = "retry_incident"
    actor: str | None = None

    def event(self, at: datetime) -> Event:
        return RetryIncident(actor=self.actor, at=at)


class SetVariablesRequest(BaseModel):
    kind: Literal["set_variables"] = "set_variables"
    actor: str | None = None
    variables: dict[str, Any]

    def event(self, at: datetime) -> Event:
        return SetVariables(actor=self.actor, variables=self.variables, at=at)


class MessageRequest(BaseModel):
    kind: Literal["message_received"] = "message_received"
    actor: str | None = None
    name: str
    variables: dict[str, Any] = Field(default_factory=dict)

    def event(self, at: datetime) -> Event:
        return MessageReceived(actor=self.actor, name=self.name, variables=self.variables, at=at)


ControlRequest = Annotated[
    SuspendRequest
    | ResumeRequest
    | CancelRequest
    | RetryIncidentRequest
    | SetVariablesRequest
    | MessageRequest,
    Field(discriminator="kind"),
]


class ControlInput(BaseModel):
    """The `control` update's input: an event from outside a task. On the wire
    `{"event": {"kind": ..., ...}, "actor_id": ...}`, as recorded histories hold it."""

    event: ControlRequest
    actor_id: str | None = None


class RunActionInput(BaseModel):
    """A service task's action, run by the `run_action` activity."""

    instance_id: str
    job_id: str
    node_id: str
    action: str
    input: dict[str, Any]


class ResolveDefinitionInput(BaseModel):
    """The `resolve_definition` activity's input: what a call activity starts."""

    key: str
    version: int | None = None


class ResolvedDefinition(BaseModel):
    definition_id: str
    spec: dict[str, Any]


class TransitionRecord(BaseModel):
    """One interpreter step as the `apply_transition` activity writes it: one database
    transaction."""

    instance_id: str
    step: int
    at: datetime
    status: InstanceStatus
    variables: dict[str, Any]
    commands: list[Command]
    # Set on the first step only: the activity creates the instance row from it.
    start: ProcessInput | None = None
    actor_id: str | None = None
    # actor_id's username, when the workflow knows it: spares the activity looking it up.
    actor: str | None = None
