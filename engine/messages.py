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


class CompleteTaskInput(BaseModel):
    task_id: str
    variables: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = None
    actor_id: str | None = None


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
