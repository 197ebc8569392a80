"""The 30-node definition and an autopilot that runs it to the end: a workload of every
kind of node, driven by the engine benchmark and checked by the engine tests."""

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.commands import RunService, StartChild, Transition
from engine.enums import InstanceStatus
from engine.events import (
    ChildCompleted,
    CompleteTask,
    Event,
    MessageReceived,
    ServiceCompleted,
    StartInstance,
    TimerFired,
)
from engine.interpreter import handle, start
from engine.state import InstanceState
from engine.validation import parse_definition

INSTANCE_ID = "7f1d4f0e-4c0b-4a8e-9a43-3a3b6c1f6f10"
AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def chain(*ids: str) -> list[dict[str, Any]]:
    """Flows from each node to the next."""
    return [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]


# The 30-node definition: parallel branches, an inclusive fork and join, an error
# boundary, a non-interrupting boundary timer, an intermediate timer, a rework loop
# through an exclusive gateway, a receive task, a call activity and a multi-instance
# task. Its service tasks use only the built-in `set` and `log` actions, and its
# intermediate timer waits one second, so it also runs against a real worker.


def thirty_node_definition() -> dict[str, Any]:
    """The definition, as deployable JSON; it calls `shipping_definition()`."""
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "startEvent"},
        {"id": "submit", "type": "userTask", "candidateGroups": ["sales"]},
        {
            "id": "validate",
            "type": "serviceTask",
            "action": "set",
            "input": {"validated": True, "round": 0},
        },
        {"id": "split", "type": "parallelGateway"},
        {
            "id": "charge",
            "type": "serviceTask",
            "action": "set",
            "input": {"charge": {"id": "=order_id + '-charge'", "amount": "=amount"}},
            "output": {"charge_id": "result.charge.id"},
            "retry": {"maxAttempts": 5, "nonRetryable": ["HTTP_4XX"]},
        },
        {"id": "charge_failed", "type": "errorBoundary", "attachedTo": "charge"},
        {"id": "fix_payment", "type": "userTask", "candidateGroups": ["finance"]},
        {"id": "pay_merge", "type": "exclusiveGateway"},
        {"id": "reserve", "type": "serviceTask", "action": "set", "input": {"reserved": True}},
        {"id": "pick", "type": "userTask", "candidateGroups": ["warehouse"], "due": "PT8H"},
        {
            "id": "pick_reminder",
            "type": "timer",
            "attachedTo": "pick",
            "duration": "PT4H",
            "interrupting": False,
        },
        {
            "id": "notify_warehouse",
            "type": "serviceTask",
            "action": "log",
            "input": {"message": "=order_id + ' is still not picked'"},
        },
        {"id": "reminder_sent", "type": "endEvent"},
        {"id": "packaging", "type": "inclusiveGateway"},
        {"id": "wrap", "type": "userTask", "candidateGroups": ["warehouse"]},
        {"id": "insure", "type": "serviceTask", "action": "set", "input": {"insured": True}},
        {"id": "label", "type": "serviceTask", "action": "set", "input": {"labelled": True}},
        {"id": "pack_join", "type": "inclusiveGateway"},
        {"id": "wait_docs", "type": "timer", "duration": "PT1S"},
        {"id": "invoice", "type": "serviceTask", "action": "set", "input": {"invoiced": True}},
        {"id": "join_all", "type": "parallelGateway"},
        {"id": "review", "type": "userTask", "assignee": "=initiator"},
        {"id": "decide", "type": "exclusiveGateway"},
        {"id": "rework", "type": "userTask", "candidateGroups": ["sales"]},
        {
            "id": "bump",
            "type": "serviceTask",
            "action": "set",
            "input": {"round": "=round + 1"},
        },
        {"id": "await_pickup", "type": "receiveTask", "message": "carrier_arrived"},
        {
            "id": "ship",
            "type": "callActivity",
            "calledElement": "shipping",
            "inputs": {"order": "=order_id"},
            "outputs": {"tracking": "tracking_no"},
        },
        {
            "id": "survey",
            "type": "userTask",
            "assignee": "=reviewer",
            "multiInstance": {
                "collection": "=reviewers",
                "elementVariable": "reviewer",
                "completionCondition": "nrOfCompletedInstances >= 2",
                "outputCollection": "ratings",
            },
        },
        {"id": "archive", "type": "serviceTask", "action": "log", "input": {"message": "done"}},
        {"id": "done", "type": "endEvent"},
    ]
    flows = [
        *chain("start", "submit", "validate", "split"),
        {"from": "split", "to": "charge"},
        {"from": "split", "to": "reserve"},
        {"from": "split", "to": "wait_docs"},
        {"from": "charge", "to": "pay_merge"},
        *chain("charge_failed", "fix_payment", "pay_merge", "join_all"),
        *chain("reserve", "pick", "packaging"),
        *chain("pick_reminder", "notify_warehouse", "reminder_sent"),
        {"from": "packaging", "to": "wrap", "condition": "gift == true"},
        {"from": "packaging", "to": "insure", "condition": "amount > 100"},
        {"from": "packaging", "to": "label", "condition": "true"},
        {"from": "wrap", "to": "pack_join"},
        {"from": "insure", "to": "pack_join"},
        {"from": "label", "to": "pack_join"},
        {"from": "pack_join", "to": "join_all"},
        *chain("wait_docs", "invoice", "join_all", "review", "decide"),
        {"from": "decide", "to": "await_pickup", "condition": "approved || round >= 2"},
        {"from": "decide", "to": "rework", "default": True},
        *chain("rework", "bump", "review"),
        *chain("await_pickup", "ship", "survey", "archive", "done"),
    ]
    return {"key": "order_fulfilment", "name": "Order fulfilment", "nodes": nodes, "flows": flows}


def shipping_definition() -> dict[str, Any]:
    """The child the 30-node definition calls: it sets `tracking_no`."""
    return {
        "key": "shipping",
        "name": "Shipping",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {
                "id": "book",
                "type": "serviceTask",
                "action": "set",
                "input": {"tracking_no": "='TRK-' + order"},
            },
            {"id": "end", "type": "endEvent"},
        ],
        "flows": chain("start", "book", "end"),
    }


THIRTY_NODE_START = {
    "amount": 150,
    "gift": True,
    "order_id": "o-1",
    "reviewers": ["ann", "bob", "cy"],
}


class Autopilot:
    """Picks the next event that moves the 30-node definition on, as people and the
    worker would: services answer as the built-in actions do (`set` returns its input),
    timers fire, the review is rejected once, two of three reviewers answer the survey.
    """

    def __init__(self) -> None:
        self.work: dict[str, RunService | StartChild] = {}

    def next_event(self, state: InstanceState, at: datetime) -> Event | None:
        for command in self.work.values():
            if isinstance(command, RunService) and command.job_id in state.jobs:
                result = command.input if command.action == "set" else None
                return ServiceCompleted(job_id=command.job_id, result=result, at=at)
        for timer_id in state.timers:
            return TimerFired(timer_id=timer_id, at=at)
        for task_id in state.open_tasks:
            return CompleteTask(
                task_id=task_id, variables=self._answer(state, task_id), actor="bob", at=at
            )
        for name in state.messages.values():
            return MessageReceived(name=name, variables={"carrier": "DHL"}, at=at)
        for child_id in state.children:
            command = self.work[child_id]
            assert isinstance(command, StartChild)
            tracking = {"order": command.variables["order"], "tracking_no": "TRK-1"}
            return ChildCompleted(child_id=child_id, variables=tracking, at=at)
        return None

    def saw(self, transition: Transition) -> None:
        for command in transition.commands:
            if isinstance(command, RunService):
                self.work[command.job_id] = command
            elif isinstance(command, StartChild):
                self.work[command.child_id] = command

    @staticmethod
    def _answer(state: InstanceState, task_id: str) -> dict[str, Any]:
        node_id = next(t.node_id for t in state.tokens if t.id == state.open_tasks[task_id])
        answers: dict[str, Callable[[], dict[str, Any]]] = {
            "submit": lambda: THIRTY_NODE_START,
            "review": lambda: {"approved": state.variables.get("round", 0) >= 1},
            "survey": lambda: {"score": 3 + state.task_locals[task_id]["loopCounter"]},
        }
        return answers.get(node_id, dict)()


def run_thirty_node(instance_id: str = INSTANCE_ID) -> list[Transition]:
    """Run the 30-node definition from start to end with the interpreter alone."""
    parsed = parse_definition(thirty_node_definition())
    pilot = Autopilot()
    transitions = [start(parsed, instance_id, StartInstance(initiator="ann", at=AT))]
    pilot.saw(transitions[0])
    at = AT
    while transitions[-1].state.status is InstanceStatus.RUNNING:
        at += timedelta(minutes=1)
        event = pilot.next_event(transitions[-1].state, at)
        if event is None:
            break
        transitions.append(handle(parsed, transitions[-1].state, event))
        pilot.saw(transitions[-1])
    return transitions
