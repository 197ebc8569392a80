"""Shared by the engine tests: a scenario driver that checks every step against a state
saved to JSON and restored. The 30-node definition and its autopilot, which the engine
benchmark drives too, are in bench/thirty_nodes.py."""

import json
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from bench.thirty_nodes import AT, INSTANCE_ID
from bench.thirty_nodes import chain as chain  # the engine tests' too: found with the rest
from engine.commands import AppendHistory, Command, Transition
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import (
    CompleteTask,
    Event,
    ServiceCompleted,
    StartInstance,
    TimerFired,
)
from engine.interpreter import InvalidEvent, handle, rejection, start
from engine.state import InstanceState
from engine.validation import parse_definition

# The example of DESIGN.md.
LEAVE_REQUEST: dict[str, Any] = {
    "key": "leave_request",
    "name": "Leave request",
    "variables": {
        "type": "object",
        "properties": {"days": {"type": "integer", "minimum": 1}},
        "required": ["days"],
    },
    "nodes": [
        {"id": "start", "type": "startEvent"},
        {
            "id": "review",
            "type": "userTask",
            "name": "Manager review",
            "candidateGroups": ["managers"],
            "assignee": "=manager",
            "priority": 50,
            "due": "P2D",
            "form": {
                "type": "object",
                "properties": {"approved": {"type": "boolean"}},
                "required": ["approved"],
            },
        },
        {"id": "decide", "type": "exclusiveGateway"},
        {"id": "approved", "type": "endEvent"},
        {"id": "rejected", "type": "endEvent"},
    ],
    "flows": [
        {"from": "start", "to": "review"},
        {"from": "review", "to": "decide"},
        {"from": "decide", "to": "approved", "condition": "approved == true"},
        {"from": "decide", "to": "rejected", "default": True},
    ],
}


T = TypeVar("T")


def through_json(state: InstanceState) -> InstanceState:
    return InstanceState.model_validate(json.loads(json.dumps(state.model_dump(mode="json"))))


def definition(nodes: list[dict[str, Any]], flows: list[dict[str, Any]]) -> Definition:
    return parse_definition({"key": "test", "name": "Test", "nodes": nodes, "flows": flows})


def of_kind(commands: list[Command], kind: type[T]) -> list[T]:
    return [command for command in commands if isinstance(command, kind)]


def history(commands: list[Command]) -> list[AppendHistory]:
    return of_kind(commands, AppendHistory)


def types(commands: list[Command]) -> list[HistoryEventType]:
    return [event.type for event in history(commands)]


def entered(commands: list[Command]) -> list[str | None]:
    return [e.node_id for e in history(commands) if e.type is HistoryEventType.NODE_ENTERED]


class Scenario:
    """One instance fed event after event.

    Every event is applied twice: to the state as it is and to the same state saved to
    JSON and restored (as a workflow replay would), and both transitions must be
    identical, so each scenario is also its own save-and-restore variant.
    """

    def __init__(
        self, definition: Definition, *, initiator: str | None = "ann", **variables: Any
    ) -> None:
        self.definition = definition
        self.now = AT
        first = start(
            definition,
            INSTANCE_ID,
            StartInstance(variables=variables, initiator=initiator, at=self.now),
        )
        self.transitions = [first]
        self.state = first.state

    @property
    def last(self) -> Transition:
        return self.transitions[-1]

    def status(self) -> InstanceStatus:
        """The instance's status now: a call, so that a type checker does not keep the
        status an earlier assert narrowed across the events sent since."""
        return self.state.status

    @property
    def commands(self) -> list[Command]:
        """Every command so far."""
        return [command for transition in self.transitions for command in transition.commands]

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def send(self, event: Event) -> Transition:
        live = handle(self.definition, self.state, event)
        restored = handle(self.definition, through_json(self.state), event)
        assert restored.model_dump(mode="json") == live.model_dump(mode="json")
        self.state = live.state
        self.transitions.append(live)
        return live

    def refused(self, event: Event) -> str:
        """The reason the event is refused; checks it changes nothing."""
        reason = rejection(self.state, event)
        assert reason is not None
        before = self.state.model_dump(mode="json")
        with pytest.raises(InvalidEvent) as raised:
            handle(self.definition, self.state, event)
        assert str(raised.value) == reason
        assert self.state.model_dump(mode="json") == before
        return reason

    # The ids of what the instance waits for, in the order it started waiting.

    def tasks(self, node_id: str | None = None) -> list[str]:
        return [task for task, token in self.state.open_tasks.items() if self._at(token, node_id)]

    def task(self, node_id: str | None = None) -> str:
        (task,) = self.tasks(node_id)
        return task

    def timers(self, node_id: str | None = None) -> list[str]:
        return [t for t, wait in self.state.timers.items() if node_id in (None, wait.node_id)]

    def timer(self, node_id: str | None = None) -> str:
        (timer,) = self.timers(node_id)
        return timer

    def job(self, node_id: str | None = None) -> str:
        (job,) = [j for j, wait in self.state.jobs.items() if node_id in (None, wait.node_id)]
        return job

    def child(self, node_id: str | None = None) -> str:
        (child,) = [c for c, wait in self.state.children.items() if node_id in (None, wait.node_id)]
        return child

    def _at(self, token_id: str, node_id: str | None) -> bool:
        return node_id is None or any(
            token.id == token_id and token.node_id == node_id for token in self.state.tokens
        )

    # Shorthands for the common events, at `now`.

    def complete(self, task_id: str, actor: str | None = "bob", **variables: Any) -> Transition:
        return self.send(
            CompleteTask(task_id=task_id, variables=variables, actor=actor, at=self.now)
        )

    def fire(self, timer_id: str) -> Transition:
        return self.send(TimerFired(timer_id=timer_id, at=self.now))

    def succeed(self, job_id: str, result: Any = None) -> Transition:
        return self.send(ServiceCompleted(job_id=job_id, result=result, at=self.now))
