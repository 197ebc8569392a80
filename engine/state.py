"""An instance's state between events: where its tokens are and what each waits for.

Every field round-trips through JSON exactly, since the workflow may keep it in
its history; fields added after the first release have defaults so that older
saved states still load.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from engine.enums import InstanceStatus
from engine.events import Deferrable


class Token(BaseModel):
    id: str
    node_id: str
    # Position in `Definition.flows` of the flow the token came by, so that a parallel
    # join knows which of its incoming flows have delivered.
    via: int | None = None


class Wait(BaseModel):
    """A token waiting for work it started elsewhere (a service job, a child instance)."""

    node_id: str
    token_id: str


class TimerWait(BaseModel):
    node_id: str  # the timer node: intermediate, or a boundary event
    token_id: str  # the token on the timer, or on the task the boundary is attached to
    fire_at: datetime


class Loop(BaseModel):
    """A multi-instance task in progress: one task per element of `items`."""

    items: list[Any]
    outputs: list[Any]  # each completion's variables by position, null until then
    completed: int = 0
    created: int = 0  # tasks are created in collection order
    open: dict[str, int] = Field(default_factory=dict)  # task id -> position


class Redo(StrEnum):
    """What a retry of an incident does again."""

    ENTER = "enter"  # everything the node does on entry (gateways, timers, boundaries...)
    WORK = "work"  # the node's own work, its boundary timers left running
    RESULT = "result"  # apply a result that arrived (output mappings) and move on


class Incident(BaseModel):
    node_id: str
    message: str
    redo: Redo = Redo.ENTER
    result: Any = None  # for Redo.RESULT: the result to apply again


class InstanceState(BaseModel):
    """Everything the interpreter needs between events; JSON round-trips exactly."""

    instance_id: str
    status: InstanceStatus
    variables: dict[str, Any]
    tokens: list[Token]
    open_tasks: dict[str, str]  # task id -> id of the token waiting for it
    seq: int = 0  # last history sequence number used
    counter: int = 0  # last number used for a derived id
    # Kept because expressions of tasks created later may read `initiator`.
    initiator: str | None = None
    # Task id -> what only that task's expressions see (a multi-instance element).
    task_locals: dict[str, dict[str, Any]] = Field(default_factory=dict)
    loops: dict[str, Loop] = Field(default_factory=dict)  # token id -> progress
    timers: dict[str, TimerWait] = Field(default_factory=dict)  # timer id -> wait
    jobs: dict[str, Wait] = Field(default_factory=dict)  # service job id -> wait
    children: dict[str, Wait] = Field(default_factory=dict)  # child id -> wait
    messages: dict[str, str] = Field(default_factory=dict)  # token id -> message awaited
    incidents: dict[str, Incident] = Field(default_factory=dict)  # token id -> incident
    # Events that arrived while suspended or in an incident, oldest first.
    deferred: list[Deferrable] = Field(default_factory=list)
