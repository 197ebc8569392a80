"""Parallel and inclusive gateways, nested, and loops back through an exclusive one."""

from typing import Any

import pytest

from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import RetryIncident, SetVariables
from engine.state import Redo
from tests.engine_fixtures import Scenario, chain, definition, entered, history, types


def task(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "userTask"}


def node_ids(scenario: Scenario) -> list[str]:
    return sorted(token.node_id for token in scenario.state.tokens)


def parallel(*branches: str) -> Definition:
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            *map(task, branches),
            {"id": "join", "type": "parallelGateway"},
            task("after"),
            {"id": "end", "type": "endEvent"},
        ],
        [
            {"from": "start", "to": "fork"},
            *[flow for branch in branches for flow in chain("fork", branch, "join")],
            *chain("join", "after", "end"),
        ],
    )


def test_a_parallel_fork_starts_every_branch() -> None:
    scenario = Scenario(parallel("a", "b", "c"))
    assert node_ids(scenario) == ["a", "b", "c"]
    assert entered(scenario.last.commands) == ["start", "fork", "a", "b", "c"]
    left = [
        e.node_id for e in history(scenario.last.commands) if e.type is HistoryEventType.NODE_LEFT
    ]
    assert left == ["start", "fork"]
    assert len({token.id for token in scenario.state.tokens}) == 3


@pytest.mark.parametrize("order", [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")])
def test_a_parallel_join_waits_for_every_branch(order: tuple[str, str, str]) -> None:
    scenario = Scenario(parallel("a", "b", "c"))
    first, second, last = order
    scenario.complete(scenario.task(first))
    scenario.complete(scenario.task(second))
    assert node_ids(scenario) == sorted(["join", "join", last])
    assert scenario.tasks("after") == []

    scenario.complete(scenario.task(last))
    assert node_ids(scenario) == ["after"]
    assert entered(scenario.last.commands) == ["join", "after"]
    scenario.complete(scenario.task("after"))
    assert scenario.status() is InstanceStatus.COMPLETED


def inclusive(*, default: bool = True, b_steps: int = 1) -> Definition:
    b_tasks = [f"b{i}" for i in range(1, b_steps + 1)]
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "inclusiveGateway"},
            task("a"),
            *map(task, b_tasks),
            task("c"),
            *([task("fallback")] if default else []),
            {"id": "join", "type": "inclusiveGateway"},
            task("after"),
            {"id": "end", "type": "endEvent"},
        ],
        [
            {"from": "start", "to": "fork"},
            {"from": "fork", "to": "a", "condition": "'a' in picks"},
            {"from": "fork", "to": b_tasks[0], "condition": "'b' in picks"},
            {"from": "fork", "to": "c", "condition": "'c' in picks"},
            *chain("a", "join"),
            *chain(*b_tasks, "join"),
            *chain("c", "join"),
            *(
                [{"from": "fork", "to": "fallback", "default": True}, *chain("fallback", "join")]
                if default
                else []
            ),
            *chain("join", "after", "end"),
        ],
    )


@pytest.mark.parametrize("picks", [["b"], ["a", "c"], ["a", "b", "c"]], ids=["one", "two", "all"])
def test_an_inclusive_fork_takes_each_flow_whose_condition_holds(picks: list[str]) -> None:
    scenario = Scenario(inclusive(), picks=picks)
    assert node_ids(scenario) == [f"{p}1" if p == "b" else p for p in picks]


@pytest.mark.parametrize("picks", [["b"], ["a", "c"], ["a", "b", "c"]], ids=["one", "two", "all"])
def test_an_inclusive_join_waits_for_every_branch_taken(picks: list[str]) -> None:
    scenario = Scenario(inclusive(), picks=picks)
    for done, branch in enumerate(reversed(picks), start=1):
        assert scenario.tasks("after") == []
        scenario.complete(scenario.task("b1" if branch == "b" else branch))
        assert node_ids(scenario).count("join") == (0 if done == len(picks) else done)
    assert node_ids(scenario) == ["after"]


def test_an_inclusive_fork_without_a_true_condition_takes_the_default() -> None:
    scenario = Scenario(inclusive(), picks=[])
    assert node_ids(scenario) == ["fallback"]
    scenario.complete(scenario.task())
    assert node_ids(scenario) == ["after"]


def test_an_inclusive_join_waits_while_a_branch_is_still_upstream() -> None:
    scenario = Scenario(inclusive(b_steps=3), picks=["a", "b"])
    scenario.complete(scenario.task("a"))
    for step in ("b1", "b2"):
        scenario.complete(scenario.task(step))
        assert "join" in node_ids(scenario)
        assert scenario.tasks("after") == []
    scenario.complete(scenario.task("b3"))
    assert node_ids(scenario) == ["after"]


def test_an_inclusive_join_fires_once_no_other_token_can_reach_it() -> None:
    # Branch b may turn away to an end event; the join then stops waiting for it.
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "fork", "type": "inclusiveGateway"},
                task("a"),
                task("b"),
                {"id": "turn", "type": "exclusiveGateway"},
                {"id": "gave_up", "type": "endEvent"},
                {"id": "join", "type": "inclusiveGateway"},
                task("after"),
                {"id": "end", "type": "endEvent"},
            ],
            [
                {"from": "start", "to": "fork"},
                {"from": "fork", "to": "a", "condition": "true"},
                {"from": "fork", "to": "b", "condition": "true"},
                *chain("a", "join"),
                *chain("b", "turn"),
                {"from": "turn", "to": "join", "condition": "keep"},
                {"from": "turn", "to": "gave_up", "default": True},
                *chain("join", "after", "end"),
            ],
        )
    )
    scenario.complete(scenario.task("a"))
    assert node_ids(scenario) == ["b", "join"]
    scenario.complete(scenario.task("b"), keep=False)
    assert entered(scenario.last.commands) == ["turn", "gave_up", "after"]
    assert node_ids(scenario) == ["after"]


def test_an_inclusive_fork_without_a_true_condition_or_default_raises_an_incident() -> None:
    scenario = Scenario(inclusive(default=False), picks=[])
    assert scenario.status() is InstanceStatus.INCIDENT
    assert node_ids(scenario) == ["fork"]
    assert scenario.state.incidents[scenario.state.tokens[0].id].redo is Redo.ENTER
    assert types(scenario.last.commands)[-1] is HistoryEventType.INCIDENT_RAISED

    scenario.send(SetVariables(variables={"picks": ["a", "c"]}, actor="admin", at=scenario.now))
    scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert scenario.status() is InstanceStatus.RUNNING
    assert node_ids(scenario) == ["a", "c"]


def test_nested_gateways_join_inside_out() -> None:
    # outer parallel: [inner inclusive: x | y | z] and w; then an exclusive choice.
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "outer", "type": "parallelGateway"},
                {"id": "inner", "type": "inclusiveGateway"},
                task("x"),
                task("y"),
                task("z"),
                {"id": "inner_join", "type": "inclusiveGateway"},
                task("w"),
                {"id": "outer_join", "type": "parallelGateway"},
                {"id": "route", "type": "exclusiveGateway"},
                {"id": "big", "type": "endEvent"},
                {"id": "small", "type": "endEvent"},
            ],
            [
                *chain("start", "outer", "inner"),
                {"from": "inner", "to": "x", "condition": "n > 0"},
                {"from": "inner", "to": "y", "condition": "n > 1"},
                {"from": "inner", "to": "z", "condition": "n > 2"},
                *chain("x", "inner_join"),
                *chain("y", "inner_join"),
                *chain("z", "inner_join", "outer_join", "route"),
                *chain("outer", "w", "outer_join"),
                {"from": "route", "to": "big", "condition": "n > 1"},
                {"from": "route", "to": "small", "default": True},
            ],
        ),
        n=2,
    )
    assert node_ids(scenario) == ["w", "x", "y"]
    scenario.complete(scenario.task("x"))
    scenario.complete(scenario.task("w"))
    assert node_ids(scenario) == ["inner_join", "outer_join", "y"]
    scenario.complete(scenario.task("y"))
    assert entered(scenario.last.commands) == ["inner_join", "outer_join", "route", "big"]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_loop_back_through_an_exclusive_gateway_runs_until_its_condition_fails() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "again", "type": "exclusiveGateway"},
                {"id": "fork", "type": "parallelGateway"},
                task("a"),
                task("b"),
                {"id": "join", "type": "parallelGateway"},
                {"id": "decide", "type": "exclusiveGateway"},
                {"id": "end", "type": "endEvent"},
            ],
            [
                *chain("start", "again", "fork", "a", "join", "decide"),
                *chain("fork", "b", "join"),
                {"from": "decide", "to": "again", "condition": "more"},
                {"from": "decide", "to": "end", "default": True},
            ],
        )
    )
    seen: set[str] = set()
    for more in (True, True, False):
        pair = scenario.tasks()
        assert node_ids(scenario) == ["a", "b"]
        assert not seen & set(pair)
        seen |= set(pair)
        scenario.complete(scenario.task("b"))
        scenario.complete(scenario.task("a"), more=more)
    assert scenario.status() is InstanceStatus.COMPLETED
    assert len(seen) == 6
    assert entered(scenario.commands).count("again") == 3
