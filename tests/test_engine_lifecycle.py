"""Suspending, resuming, cancelling an instance and setting its variables; which events
an instance refuses, defers or ignores; what its live state shows."""

import json
from datetime import timedelta

import pytest
from pydantic import TypeAdapter

from engine.commands import CancelChild, CancelService, CancelTimer, CloseTask, Command
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.events import (
    Cancel,
    ChildCompleted,
    CompleteTask,
    Event,
    MessageReceived,
    Resume,
    RetryIncident,
    ServiceCompleted,
    ServiceFailed,
    SetVariables,
    Suspend,
    TimerFired,
)
from engine.interpreter import handle, live_state, rejection
from tests.engine_fixtures import Scenario, chain, definition, history, of_kind, types


def busy() -> Definition:
    """Four branches at once: a user task with a boundary timer, a timer, a service task
    and a call activity; then a receive task."""
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            {"id": "review", "type": "userTask"},
            {
                "id": "remind",
                "type": "timer",
                "attachedTo": "review",
                "duration": "P1D",
                "interrupting": False,
            },
            {"id": "reminded", "type": "endEvent"},
            {"id": "wait", "type": "timer", "duration": "PT1H"},
            {"id": "note", "type": "serviceTask", "action": "set", "input": {"noted": True}},
            {"id": "sub", "type": "callActivity", "calledElement": "child"},
            {"id": "join", "type": "parallelGateway"},
            {"id": "paid", "type": "receiveTask", "message": "paid"},
            {"id": "end", "type": "endEvent"},
        ],
        [
            {"from": "start", "to": "fork"},
            *[
                f
                for branch in ("review", "wait", "note", "sub")
                for f in chain("fork", branch, "join")
            ],
            *chain("remind", "reminded"),
            *chain("join", "paid", "end"),
        ],
    )


def test_suspend_records_who_and_why() -> None:
    scenario = Scenario(busy())
    suspended = scenario.send(Suspend(actor="admin", reason="audit", at=scenario.now))
    assert scenario.status() is InstanceStatus.SUSPENDED
    (event,) = history(suspended.commands)
    assert (event.type, event.actor, event.data) == (
        HistoryEventType.INSTANCE_SUSPENDED,
        "admin",
        {"reason": "audit"},
    )


def test_a_suspended_instance_refuses_completions_and_defers_what_its_work_reports() -> None:
    scenario = Scenario(busy())
    task_id, timer_id, job_id = scenario.task("review"), scenario.timer("wait"), scenario.job()
    scenario.send(Suspend(actor="admin", at=scenario.now))

    assert scenario.refused(CompleteTask(task_id=task_id, at=scenario.now)) == (
        "instance is SUSPENDED, not RUNNING"
    )
    deferred: list[Event] = [
        TimerFired(timer_id=timer_id, at=scenario.now),
        ServiceCompleted(job_id=job_id, result={"noted": True}, at=scenario.now),
    ]
    for event in deferred:
        transition = scenario.send(event)
        assert transition.commands == []
    assert scenario.state.deferred == deferred
    assert scenario.state.timers[timer_id]  # still running, as far as the instance knows

    scenario.later(hours=2)
    resumed = scenario.send(Resume(actor="admin", at=scenario.now))
    assert types(resumed.commands)[:2] == [
        HistoryEventType.INSTANCE_RESUMED,
        HistoryEventType.TIMER_FIRED,
    ]
    assert HistoryEventType.SERVICE_COMPLETED in types(resumed.commands)
    assert {e.at for e in history(resumed.commands)} == {scenario.now}
    assert scenario.status() is InstanceStatus.RUNNING
    assert scenario.state.deferred == []
    assert scenario.state.variables == {"noted": True}
    assert sorted(t.node_id for t in scenario.state.tokens) == ["join", "join", "review", "sub"]


def test_a_report_about_work_no_longer_running_is_ignored_not_deferred() -> None:
    scenario = Scenario(busy())
    scenario.send(Suspend(actor="admin", at=scenario.now))
    assert scenario.send(TimerFired(timer_id="unknown", at=scenario.now)).commands == []
    assert scenario.state.deferred == []


def test_suspend_and_resume_are_refused_out_of_turn() -> None:
    scenario = Scenario(busy())
    assert scenario.refused(Resume(actor="admin", at=scenario.now)) == (
        "instance is RUNNING, not SUSPENDED"
    )
    scenario.send(Suspend(actor="admin", at=scenario.now))
    assert "only a RUNNING or INCIDENT one" in scenario.refused(
        Suspend(actor="admin", at=scenario.now)
    )
    assert "nothing to retry" in scenario.refused(RetryIncident(actor="admin", at=scenario.now))


def test_an_instance_in_an_incident_defers_reports_until_the_retry() -> None:
    scenario = Scenario(busy())
    timer_id, job_id = scenario.timer("wait"), scenario.job()
    scenario.send(ServiceFailed(job_id=job_id, message="down", at=scenario.now))
    assert scenario.status() is InstanceStatus.INCIDENT
    scenario.fire(timer_id)
    assert [e.kind for e in scenario.state.deferred] == ["timer_fired"]

    # Suspended and resumed, it goes back to its incident.
    scenario.send(Suspend(actor="admin", at=scenario.now))
    scenario.send(Resume(actor="admin", at=scenario.now))
    assert scenario.status() is InstanceStatus.INCIDENT

    retried = scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert types(retried.commands)[:3] == [
        HistoryEventType.INCIDENT_RESOLVED,
        HistoryEventType.SERVICE_STARTED,
        HistoryEventType.TIMER_FIRED,
    ]
    assert scenario.status() is InstanceStatus.RUNNING
    assert scenario.state.deferred == []


def test_cancel_closes_every_task_and_stops_all_work() -> None:
    scenario = Scenario(busy())
    task_id, job_id, child_id = scenario.task(), scenario.job(), scenario.child()
    timers = scenario.timers()
    cancelled = scenario.send(Cancel(actor="admin", reason="duplicate", at=scenario.now))

    assert of_kind(cancelled.commands, CloseTask) == [
        CloseTask(task_id=task_id, status=TaskStatus.CANCELLED, actor="admin")
    ]
    assert sorted(c.timer_id for c in of_kind(cancelled.commands, CancelTimer)) == sorted(timers)
    assert of_kind(cancelled.commands, CancelService) == [CancelService(job_id=job_id)]
    assert of_kind(cancelled.commands, CancelChild) == [CancelChild(child_id=child_id)]
    task_cancelled = [
        e for e in history(cancelled.commands) if e.type is HistoryEventType.TASK_CANCELLED
    ]
    assert [(e.task_id, e.node_id, e.actor) for e in task_cancelled] == [
        (task_id, "review", "admin")
    ]
    last = history(cancelled.commands)[-1]
    assert (last.type, last.actor, last.data) == (
        HistoryEventType.INSTANCE_CANCELLED,
        "admin",
        {"reason": "duplicate"},
    )
    state = scenario.state
    assert state.status is InstanceStatus.CANCELLED
    assert (state.tokens, state.open_tasks, state.timers, state.jobs, state.children) == (
        [],
        {},
        {},
        {},
        {},
    )


def test_a_cancelled_instance_refuses_people_and_ignores_its_late_work() -> None:
    scenario = Scenario(busy())
    task_id, timer_id, job_id, child_id = (
        scenario.task(),
        scenario.timer("wait"),
        scenario.job(),
        scenario.child(),
    )
    scenario.send(Cancel(actor="admin", at=scenario.now))
    refused: list[Event] = [
        CompleteTask(task_id=task_id, at=scenario.now),
        Cancel(actor="admin", at=scenario.now),
        SetVariables(variables={"a": 1}, actor="admin", at=scenario.now),
        Suspend(actor="admin", at=scenario.now),
        MessageReceived(name="paid", at=scenario.now),
    ]
    for event in refused:
        scenario.refused(event)
    late: list[Event] = [
        TimerFired(timer_id=timer_id, at=scenario.now),
        ServiceCompleted(job_id=job_id, at=scenario.now),
        ChildCompleted(child_id=child_id, at=scenario.now),
    ]
    for event in late:
        assert scenario.send(event).commands == []


def test_cancel_drops_what_was_deferred() -> None:
    scenario = Scenario(busy())
    scenario.send(Suspend(actor="admin", at=scenario.now))
    scenario.fire(scenario.timer("wait"))
    scenario.send(Cancel(actor="admin", at=scenario.now))
    assert scenario.state.deferred == []


@pytest.mark.parametrize("status", ["running", "suspended", "incident"])
def test_set_variables_merges_and_is_recorded(status: str) -> None:
    scenario = Scenario(busy(), a=1, b={"x": 1})
    if status == "suspended":
        scenario.send(Suspend(actor="admin", at=scenario.now))
    if status == "incident":
        scenario.send(ServiceFailed(job_id=scenario.job(), message="down", at=scenario.now))
    before = scenario.status()
    updated = scenario.send(
        SetVariables(variables={"b": {"y": 2}, "c": 3}, actor="ops", at=scenario.now)
    )
    assert scenario.state.variables == {"a": 1, "b": {"y": 2}, "c": 3}
    (event,) = history(updated.commands)
    assert (event.type, event.actor, event.data) == (
        HistoryEventType.VARIABLES_UPDATED,
        "ops",
        {"variables": {"b": {"y": 2}, "c": 3}},
    )
    assert scenario.status() is before


def test_rejection_accepts_what_handle_takes() -> None:
    scenario = Scenario(busy())
    acceptable: list[Event] = [
        CompleteTask(task_id=scenario.task(), at=scenario.now),
        Suspend(actor="a", at=scenario.now),
        Cancel(actor="a", at=scenario.now),
        SetVariables(variables={}, actor="a", at=scenario.now),
        TimerFired(timer_id="whatever", at=scenario.now),
        ServiceFailed(job_id="whatever", message="x", at=scenario.now),
    ]
    for event in acceptable:
        assert rejection(scenario.state, event) is None


def test_handle_leaves_the_input_state_untouched() -> None:
    scenario = Scenario(busy())
    before = scenario.state.model_dump(mode="json")
    handle(scenario.definition, scenario.state, Cancel(actor="a", at=scenario.now))
    handle(
        scenario.definition,
        scenario.state,
        TimerFired(timer_id=scenario.timer("wait"), at=scenario.now),
    )
    assert scenario.state.model_dump(mode="json") == before


def test_events_and_commands_survive_json_as_unions() -> None:
    scenario = Scenario(busy())
    scenario.fire(scenario.timer("remind"))
    scenario.send(
        ServiceFailed(job_id=scenario.job(), error_code="E", message="x", at=scenario.now)
    )
    scenario.send(Cancel(actor="a", at=scenario.now))
    commands = TypeAdapter(list[Command])
    assert commands.validate_json(commands.dump_json(scenario.commands)) == scenario.commands
    assert len({type(c) for c in scenario.commands}) == 9
    events = TypeAdapter(list[Event])
    sample: list[Event] = [
        Resume(actor="a", at=scenario.now),
        MessageReceived(name="paid", variables={"a": 1}, at=scenario.now),
        ServiceCompleted(
            job_id="j", result=[1, {"b": None}], at=scenario.now + timedelta(seconds=1)
        ),
    ]
    assert events.validate_json(events.dump_json(sample)) == sample


def test_live_state_shows_tokens_and_everything_waited_for() -> None:
    scenario = Scenario(busy())
    scenario.fire(scenario.timer("wait"))
    scenario.send(ServiceCompleted(job_id=scenario.job(), result={"noted": True}, at=scenario.now))
    scenario.send(Suspend(actor="a", at=scenario.now))
    scenario.send(ChildCompleted(child_id=scenario.child(), at=scenario.now))
    live = live_state(scenario.definition, scenario.state)
    json.dumps(live)  # plain JSON, as the query answers it
    tokens = {t.node_id: t.id for t in scenario.state.tokens}
    assert live["status"] == "SUSPENDED"
    assert [n["node_id"] for n in live["active_nodes"]] == ["review", "join", "sub"]
    assert len(live["active_nodes"][1]["tokens"]) == 2
    assert live["active_nodes"][0] == {
        "node_id": "review",
        "type": "userTask",
        "tokens": [tokens["review"]],
    }
    assert live["tasks"] == [
        {"task_id": scenario.task(), "node_id": "review", "token_id": tokens["review"], "local": {}}
    ]
    (timer,) = live["timers"]
    assert (timer["node_id"], timer["attached_to"]) == ("remind", "review")
    assert timer["fire_at"] == "2025-03-04T09:00:00+00:00"
    assert live["services"] == []
    assert live["children"] == [{"child_id": scenario.child(), "node_id": "sub", "key": "child"}]
    assert live["messages"] == []
    assert live["incidents"] == []
    assert [e["kind"] for e in live["deferred"]] == ["child_completed"]


def test_live_state_shows_messages_awaited_and_incidents() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "fork", "type": "parallelGateway"},
                {"id": "paid", "type": "receiveTask", "message": "paid"},
                {"id": "charge", "type": "serviceTask", "action": "http"},
                {"id": "join", "type": "parallelGateway"},
                {"id": "end", "type": "endEvent"},
            ],
            [*chain("start", "fork", "paid", "join", "end"), *chain("fork", "charge", "join")],
        )
    )
    assert live_state(scenario.definition, scenario.state)["services"] == [
        {"job_id": scenario.job(), "node_id": "charge", "action": "http"}
    ]
    scenario.send(ServiceFailed(job_id=scenario.job(), message="down", at=scenario.now))
    live = live_state(scenario.definition, scenario.state)
    tokens = {t.node_id: t.id for t in scenario.state.tokens}
    assert live["messages"] == [{"name": "paid", "node_id": "paid", "token_id": tokens["paid"]}]
    assert live["incidents"] == [
        {"node_id": "charge", "token_id": tokens["charge"], "message": "action 'http' failed: down"}
    ]
