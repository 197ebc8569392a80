"""Multi-instance user tasks: one task per element, in parallel or in sequence, ended
early by a completion condition, their variables collected in order."""

from typing import Any

from engine.commands import CloseTask, CreateTask, StartTimer
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.interpreter import live_state
from tests.engine_fixtures import Scenario, chain, definition, entered, of_kind, types


def voting(loop: dict[str, Any], *, boundary: bool = False) -> Definition:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "startEvent"},
        {
            "id": "vote",
            "type": "userTask",
            "name": "Vote",
            "assignee": "=reviewer",
            "priority": "=10 + loopCounter",
            "multiInstance": loop,
        },
        {"id": "end", "type": "endEvent"},
    ]
    flows = chain("start", "vote", "end")
    if boundary:
        nodes += [
            {"id": "too_late", "type": "timer", "attachedTo": "vote", "duration": "P1D"},
            {"id": "expired", "type": "endEvent"},
        ]
        flows += chain("too_late", "expired")
    return definition(nodes, flows)


PARALLEL = {
    "collection": "=reviewers",
    "elementVariable": "reviewer",
    "completionCondition": "nrOfCompletedInstances >= 2",
    "outputCollection": "votes",
}
REVIEWERS = ["ann", "bob", "cy"]


def created(scenario: Scenario) -> list[CreateTask]:
    return of_kind(scenario.last.commands, CreateTask)


def test_parallel_instances_are_created_at_once_each_seeing_its_element() -> None:
    scenario = Scenario(voting(PARALLEL), reviewers=REVIEWERS)
    tasks = created(scenario)
    assert [(t.assignee, t.priority, t.name) for t in tasks] == [
        ("ann", 10, "Vote"),
        ("bob", 11, "Vote"),
        ("cy", 12, "Vote"),
    ]
    assert [scenario.state.task_locals[t.task_id] for t in tasks] == [
        {"loopCounter": 0, "reviewer": "ann"},
        {"loopCounter": 1, "reviewer": "bob"},
        {"loopCounter": 2, "reviewer": "cy"},
    ]
    assert len(scenario.state.tokens) == 1
    assert "reviewer" not in scenario.state.variables


def test_a_completion_condition_of_two_of_three_cancels_the_third_and_collects_in_order() -> None:
    scenario = Scenario(voting(PARALLEL), reviewers=REVIEWERS)
    ann, bob, cy = scenario.tasks()
    first = scenario.complete(cy, approve=False)
    assert types(first.commands) == [HistoryEventType.TASK_COMPLETED]
    assert scenario.status() is InstanceStatus.RUNNING

    second = scenario.complete(ann, approve=True)
    assert of_kind(second.commands, CloseTask) == [
        CloseTask(task_id=ann, status=TaskStatus.COMPLETED, actor="bob"),
        CloseTask(task_id=bob, status=TaskStatus.CANCELLED, actor=None),
    ]
    assert types(second.commands)[:3] == [
        HistoryEventType.TASK_COMPLETED,
        HistoryEventType.TASK_CANCELLED,
        HistoryEventType.NODE_LEFT,
    ]
    assert scenario.state.variables == {
        "reviewers": REVIEWERS,
        "votes": [{"approve": True}, None, {"approve": False}],
    }
    assert scenario.status() is InstanceStatus.COMPLETED
    assert (scenario.state.open_tasks, scenario.state.task_locals, scenario.state.loops) == (
        {},
        {},
        {},
    )


def test_without_a_condition_every_instance_completes() -> None:
    loop = {"collection": ["x", "y"], "elementVariable": "reviewer", "outputCollection": "out"}
    scenario = Scenario(voting(loop))
    assert [t.assignee for t in created(scenario)] == ["x", "y"]
    for task_id in scenario.tasks():
        scenario.complete(task_id, n=1)
    assert scenario.state.variables == {"out": [{"n": 1}, {"n": 1}]}
    assert scenario.status() is InstanceStatus.COMPLETED


def test_sequential_instances_are_created_one_after_the_other() -> None:
    loop = {**PARALLEL, "sequential": True, "completionCondition": None}
    scenario = Scenario(voting(loop), reviewers=REVIEWERS)
    for position, reviewer in enumerate(REVIEWERS):
        (task,) = created(scenario)
        assert (task.assignee, scenario.state.task_locals[task.task_id]["loopCounter"]) == (
            reviewer,
            position,
        )
        scenario.complete(task.task_id, score=position)
    assert scenario.state.variables["votes"] == [{"score": 0}, {"score": 1}, {"score": 2}]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_sequential_loop_ended_early_leaves_the_rest_uncreated() -> None:
    loop = {
        **PARALLEL,
        "sequential": True,
        "completionCondition": "votes.exists(v, v != null && v.veto)",
    }
    scenario = Scenario(voting(loop), reviewers=REVIEWERS)
    scenario.complete(scenario.task(), veto=False)
    done = scenario.complete(scenario.task(), veto=True)
    assert of_kind(done.commands, CreateTask) == []
    assert scenario.state.variables["votes"] == [{"veto": False}, {"veto": True}, None]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_an_empty_collection_skips_the_node() -> None:
    scenario = Scenario(voting(PARALLEL, boundary=True), reviewers=[])
    assert entered(scenario.last.commands) == ["start", "vote", "end"]
    assert of_kind(scenario.last.commands, CreateTask) == []
    assert of_kind(scenario.last.commands, StartTimer) == []
    assert scenario.state.variables["votes"] == []
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_collection_that_is_not_a_list_raises_an_incident() -> None:
    scenario = Scenario(voting(PARALLEL), reviewers="ann")
    assert scenario.status() is InstanceStatus.INCIDENT
    assert "not a list" in next(iter(scenario.state.incidents.values())).message


def test_an_interrupting_boundary_timer_cancels_every_open_instance() -> None:
    scenario = Scenario(voting(PARALLEL, boundary=True), reviewers=REVIEWERS)
    scenario.complete(scenario.tasks()[0], approve=True)
    still_open = scenario.tasks()
    fired = scenario.fire(scenario.timer())
    assert of_kind(fired.commands, CloseTask) == [
        CloseTask(task_id=task_id, status=TaskStatus.CANCELLED, actor=None)
        for task_id in still_open
    ]
    assert entered(fired.commands) == ["too_late", "expired"]
    assert "votes" not in scenario.state.variables
    assert (scenario.state.loops, scenario.state.task_locals) == ({}, {})


def test_the_live_state_shows_each_task_with_its_element() -> None:
    scenario = Scenario(voting(PARALLEL), reviewers=REVIEWERS)
    tasks = live_state(scenario.definition, scenario.state)["tasks"]
    assert [(t["node_id"], t["local"]["reviewer"]) for t in tasks] == [
        ("vote", "ann"),
        ("vote", "bob"),
        ("vote", "cy"),
    ]
