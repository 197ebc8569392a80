"""Timers: intermediate (duration, until) and boundary (interrupting or not), and
timers that fire too late to matter."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.thirty_nodes import AT
from engine.commands import (
    CancelChild,
    CancelService,
    CancelTimer,
    CloseTask,
    StartTimer,
)
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.events import TimerFired
from tests.engine_fixtures import Scenario, chain, definition, entered, history, of_kind, types


def waiting(timer: dict[str, Any]) -> Definition:
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "wait", "type": "timer", **timer},
            {"id": "after", "type": "userTask"},
            {"id": "end", "type": "endEvent"},
        ],
        chain("start", "wait", "after", "end"),
    )


def test_an_intermediate_timer_waits_for_its_duration() -> None:
    scenario = Scenario(waiting({"duration": "PT1H"}))
    (started,) = of_kind(scenario.last.commands, StartTimer)
    assert (started.node_id, started.fire_at) == ("wait", AT + timedelta(hours=1))
    assert scenario.state.timers[started.timer_id].token_id == scenario.state.tokens[0].id
    (record,) = [
        e for e in history(scenario.last.commands) if e.type is HistoryEventType.TIMER_STARTED
    ]
    assert record.data == {"timer_id": started.timer_id, "fire_at": "2025-03-03T10:00:00+00:00"}

    scenario.later(hours=1)
    fired = scenario.fire(started.timer_id)
    assert types(fired.commands)[:3] == [
        HistoryEventType.TIMER_FIRED,
        HistoryEventType.NODE_LEFT,
        HistoryEventType.NODE_ENTERED,
    ]
    assert entered(fired.commands) == ["after"]
    assert scenario.state.timers == {}


@pytest.mark.parametrize(
    ("timer", "variables", "fire_at"),
    [
        (
            {"until": "=deadline"},
            {"deadline": "2025-03-10T17:00:00Z"},
            datetime(2025, 3, 10, 17, tzinfo=UTC),
        ),
        (
            {"until": "=timestamp(deadline)"},
            {"deadline": "2025-03-10T17:00:00+02:00"},
            datetime(2025, 3, 10, 15, tzinfo=UTC),
        ),
        ({"duration": "=pause"}, {"pause": "PT2H"}, AT + timedelta(hours=2)),
        ({"duration": "=duration(pause)"}, {"pause": "90m"}, AT + timedelta(minutes=90)),
    ],
)
def test_a_timer_may_be_given_by_an_expression(
    timer: dict[str, Any], variables: dict[str, Any], fire_at: datetime
) -> None:
    scenario = Scenario(waiting(timer), **variables)
    (started,) = of_kind(scenario.last.commands, StartTimer)
    assert started.fire_at == fire_at


@pytest.mark.parametrize(
    ("timer", "variables", "message"),
    [
        ({"until": "=deadline"}, {"deadline": "next friday"}, "not an RFC 3339 timestamp"),
        ({"until": "=deadline"}, {"deadline": "2025-03-10T17:00:00"}, "not an RFC 3339 timestamp"),
        ({"until": "=deadline"}, {}, "until"),
        ({"duration": "=pause"}, {"pause": 5}, "not a duration"),
    ],
)
def test_a_timer_expression_that_fails_raises_an_incident(
    timer: dict[str, Any], variables: dict[str, Any], message: str
) -> None:
    scenario = Scenario(waiting(timer), **variables)
    assert scenario.status() is InstanceStatus.INCIDENT
    assert message in next(iter(scenario.state.incidents.values())).message
    assert scenario.state.timers == {}


def bounded(host: dict[str, Any], *, interrupting: bool | None = None) -> Definition:
    boundary: dict[str, Any] = {
        "id": "late",
        "type": "timer",
        "attachedTo": "host",
        "duration": "P1D",
    }
    if interrupting is not None:
        boundary["interrupting"] = interrupting
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "host", **host},
            boundary,
            {"id": "escalate", "type": "userTask"},
            {"id": "end", "type": "endEvent"},
            {"id": "escalated", "type": "endEvent"},
        ],
        [*chain("start", "host", "end"), *chain("late", "escalate", "escalated")],
    )


USER_TASK = {"type": "userTask"}


def test_a_boundary_timer_starts_with_its_task() -> None:
    scenario = Scenario(bounded(USER_TASK))
    (started,) = of_kind(scenario.last.commands, StartTimer)
    assert (started.node_id, started.fire_at) == ("late", AT + timedelta(days=1))
    assert types(scenario.last.commands)[-2:] == [
        HistoryEventType.TIMER_STARTED,
        HistoryEventType.TASK_CREATED,
    ]


def test_a_boundary_timer_is_cancelled_when_its_task_completes() -> None:
    scenario = Scenario(bounded(USER_TASK))
    timer_id = scenario.timer()
    done = scenario.complete(scenario.task())
    assert of_kind(done.commands, CancelTimer) == [CancelTimer(timer_id=timer_id)]
    assert types(done.commands)[:3] == [
        HistoryEventType.TASK_COMPLETED,
        HistoryEventType.TIMER_CANCELLED,
        HistoryEventType.NODE_LEFT,
    ]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_an_interrupting_boundary_timer_cancels_the_task_and_leaves_by_its_flow() -> None:
    scenario = Scenario(bounded(USER_TASK))
    task_id = scenario.task()
    scenario.later(days=1)
    fired = scenario.fire(scenario.timer())
    assert of_kind(fired.commands, CloseTask) == [
        CloseTask(task_id=task_id, status=TaskStatus.CANCELLED, actor=None)
    ]
    assert types(fired.commands)[:3] == [
        HistoryEventType.TIMER_FIRED,
        HistoryEventType.TASK_CANCELLED,
        HistoryEventType.NODE_LEFT,
    ]
    assert entered(fired.commands) == ["late", "escalate"]
    assert [token.node_id for token in scenario.state.tokens] == ["escalate"]
    assert scenario.tasks() == [scenario.task("escalate")]


def test_a_non_interrupting_boundary_timer_starts_a_path_beside_the_task() -> None:
    scenario = Scenario(bounded(USER_TASK, interrupting=False))
    task_id = scenario.task("host")
    fired = scenario.fire(scenario.timer())
    assert of_kind(fired.commands, CloseTask) == []
    assert entered(fired.commands) == ["late", "escalate"]
    assert sorted(token.node_id for token in scenario.state.tokens) == ["escalate", "host"]
    assert scenario.task("host") == task_id

    scenario.complete(scenario.task("escalate"))
    assert scenario.status() is InstanceStatus.RUNNING
    scenario.complete(task_id)
    assert scenario.status() is InstanceStatus.COMPLETED


@pytest.mark.parametrize(
    ("host", "cancelled"),
    [
        ({"type": "serviceTask", "action": "log"}, CancelService),
        ({"type": "callActivity", "calledElement": "other"}, CancelChild),
    ],
)
def test_an_interrupting_boundary_timer_cancels_the_work_of_its_task(
    host: dict[str, Any], cancelled: type[CancelService | CancelChild]
) -> None:
    scenario = Scenario(bounded(host))
    fired = scenario.fire(scenario.timer())
    assert len(of_kind(fired.commands, cancelled)) == 1
    assert (scenario.state.jobs, scenario.state.children) == ({}, {})
    assert [token.node_id for token in scenario.state.tokens] == ["escalate"]


def test_an_interrupting_boundary_timer_stops_a_receive_task_waiting() -> None:
    scenario = Scenario(bounded({"type": "receiveTask", "message": "go"}))
    assert list(scenario.state.messages.values()) == ["go"]
    scenario.fire(scenario.timer())
    assert scenario.state.messages == {}


def test_a_timer_that_fires_after_its_task_was_left_is_ignored() -> None:
    scenario = Scenario(bounded(USER_TASK, interrupting=False))
    timer_id = scenario.timer()
    scenario.complete(scenario.task())
    before = scenario.state
    ignored = scenario.fire(timer_id)
    assert ignored.commands == []
    assert ignored.state == before


def test_a_timer_that_fires_twice_is_ignored_the_second_time() -> None:
    scenario = Scenario(waiting({"duration": "PT1M"}))
    timer_id = scenario.timer()
    scenario.fire(timer_id)
    assert scenario.fire(timer_id).commands == []


def test_an_unknown_timer_is_ignored() -> None:
    scenario = Scenario(waiting({"duration": "PT1M"}))
    assert scenario.send(TimerFired(timer_id="no-such-timer", at=AT)).commands == []


def test_a_timer_of_a_completed_instance_is_ignored() -> None:
    scenario = Scenario(bounded(USER_TASK))
    timer_id = scenario.timer()
    scenario.complete(scenario.task())
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.fire(timer_id).commands == []
