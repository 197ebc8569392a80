"""The messages `ProcessWorkflow` exchanges with its clients and its activities.

They live in the pure core because both sides import them: the API (which may not
import the worker) and the workflow (which may import nothing but temporalio and engine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from engine.enums import InstanceStatus
from engine.interpreter import Command

WORKFLOW_NAME = "ProcessWorkflow"
UPDATE_STARTED = "started"
UPDATE_COMPLETE_TASK = "complete_task"
UPDATE_CONTROL = "control"
QUERY_LIVE_STATE = "live_state"


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


class ProcessResult(BaseModel):
    """How an instance ended, and its variables then: what a parent's call activity maps."""

    status: InstanceStatus
    variables: dict[str, Any] = Field(default_factory=dict)


class CompleteTaskInput(BaseModel):
    task_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    actor_id: str | None = None


class ControlInput(BaseModel):
    """An event from outside a task, for the `control` update: suspend, resume, cancel,
    set variables, a message, an incident retry. Its `at` is set by the workflow."""

    event: dict[str, Any]
    actor_id: str | None = None


class RunActionInput(BaseModel):
    """A service task's action, run by the `run_action` activity."""

    instance_id: str
    job_id: str
    node_id: str
    action: str
    input: dict[str, Any]


class ResolveDefinitionInput(BaseModel):
    key: str
    version: int | None = None


class ResolvedDefinition(BaseModel):
    definition_id: str
    spec: dict[str, Any]


class TransitionRecord(BaseModel):
    """One interpreter step as the activity writes it: one database transaction."""

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
