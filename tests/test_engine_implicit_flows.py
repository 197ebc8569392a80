"""BPMN's implicit fork and implicit end: a node other than a gateway with several
outgoing flows forks like a parallel gateway, and one without any ends its path."""

from typing import Any

from engine.bpmn import bpmn_to_definition
from engine.commands import CancelTimer
from engine.enums import HistoryEventType, InstanceStatus
from engine.validation import parse_definition, validate_definition
from tests.engine_fixtures import Scenario, chain, definition, entered, history, of_kind
from tests.test_engine_bpmn import document


def task(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "userTask"}


def node_ids(scenario: Scenario) -> list[str]:
    return sorted(token.node_id for token in scenario.state.tokens)


def test_a_task_with_several_outgoing_flows_forks_and_a_parallel_join_waits_for_both() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                task("order"),
                task("pack"),
                task("invoice"),
                {"id": "join", "type": "parallelGateway"},
                {"id": "end", "type": "endEvent"},
            ],
            [
                *chain("start", "order"),
                *chain("order", "pack", "join"),
                *chain("order", "invoice", "join"),
                *chain("join", "end"),
            ],
        )
    )
    # Scenario.send also replays each event on the state saved to JSON and restored.
    forked = scenario.complete(scenario.task("order"))
    assert entered(forked.commands) == ["pack", "invoice"]
    left = [e.node_id for e in history(forked.commands) if e.type is HistoryEventType.NODE_LEFT]
    assert left == ["order"]
    assert node_ids(scenario) == ["invoice", "pack"]
    scenario.complete(scenario.task("pack"))
    assert scenario.status() is InstanceStatus.RUNNING
    scenario.complete(scenario.task("invoice"))
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_node_without_outgoing_flow_ends_its_path_and_the_last_completes_the_instance() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                task("a"),
                task("b"),
                {"id": "remind", "type": "timer", "attachedTo": "b", "duration": "P1D"},
            ],
            [{"from": "start", "to": "a"}, {"from": "start", "to": "b"}],
        )
    )
    assert node_ids(scenario) == ["a", "b"]
    done = scenario.complete(scenario.task("a"))
    assert [e.type for e in history(done.commands)][-1] is HistoryEventType.NODE_LEFT
    assert scenario.status() is InstanceStatus.RUNNING
    timer = scenario.timer("remind")
    last = scenario.complete(scenario.task("b"))
    # Leaving by an implicit end stops the task's boundary timer like any departure.
    assert [c.timer_id for c in of_kind(last.commands, CancelTimer)] == [timer]
    assert history(last.commands)[-1].type is HistoryEventType.INSTANCE_COMPLETED
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_boundary_event_without_outgoing_flow_ends_the_path_it_started() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                task("review"),
                {
                    "id": "remind",
                    "type": "timer",
                    "attachedTo": "review",
                    "duration": "PT1H",
                    "interrupting": False,
                },
                {"id": "end", "type": "endEvent"},
            ],
            chain("start", "review", "end"),
        )
    )
    scenario.later(hours=1)
    scenario.fire(scenario.timer("remind"))
    assert node_ids(scenario) == ["review"]
    scenario.complete(scenario.task("review"))
    assert scenario.status() is InstanceStatus.COMPLETED


def test_validation_accepts_implicit_forks_and_ends_and_still_wants_gateway_flows() -> None:
    def problems(nodes: list[dict[str, Any]], flows: list[dict[str, Any]]) -> list[str]:
        raw = {"key": "k", "name": "K", "nodes": nodes, "flows": flows}
        return [f"{p.node_id}: {p.message}" for p in validate_definition(raw)]

    start = {"id": "start", "type": "startEvent"}
    # No end event at all: each path ends where it stops.
    assert (
        problems([start, task("a"), task("b")], [*chain("start", "a"), *chain("start", "b")]) == []
    )
    # A parallel join after an implicit fork has its matching fork.
    join = {"id": "join", "type": "parallelGateway"}
    flows = [*chain("start", "a", "join"), *chain("start", "b", "join")]
    assert (
        problems([start, task("a"), task("b"), join, task("c")], [*flows, *chain("join", "c")])
        == []
    )
    # A gateway still needs an outgoing flow, and a cycle without a way out is still found.
    gateway = {"id": "g", "type": "exclusiveGateway"}
    assert problems([start, gateway], chain("start", "g")) == [
        "g: gateway has no outgoing flow",
        "start: no path to an end event",
    ]
    loop = [*chain("start", "a", "b"), *chain("b", "a")]
    assert problems([start, task("a"), task("b")], loop) == [
        "start: no path to an end event",
        "a: no path to an end event",
        "b: no path to an end event",
    ]
    # Conditions stay on gateways' flows.
    conditioned = [{"from": "start", "to": "a", "condition": "true"}, *chain("start", "b")]
    assert problems([start, task("a"), task("b")], conditioned) == [
        "start: only a flow leaving an exclusiveGateway or inclusiveGateway takes a condition"
    ]


def test_an_imported_model_with_an_implicit_fork_and_ends_runs() -> None:
    xml = document(
        '<bpmn:startEvent id="start" />'
        '<bpmn:userTask id="a" />'
        '<bpmn:manualTask id="b" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="start" targetRef="b" />'
    )
    scenario = Scenario(parse_definition(bpmn_to_definition(xml)))
    assert node_ids(scenario) == ["a"]  # `b` passed through and ended its path
    scenario.complete(scenario.task("a"))
    assert scenario.status() is InstanceStatus.COMPLETED
