"""The interpreter, scenario by scenario.

Each scenario runs twice (SaveRestore): once carrying the state from one event
to the next as is, once through JSON in between, as the workflow's history
replay would; both must give the same results.
"""

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid5

import pytest
from pydantic import TypeAdapter

from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.interpreter import (
    MAX_STEPS,
    AppendHistory,
    CloseTask,
    Command,
    CompleteTask,
    CreateTask,
    InstanceState,
    InvalidEvent,
    RaiseIncident,
    StartInstance,
    Transition,
    can_complete,
    complete_task,
    start,
)
from engine.validation import parse_definition
from tests.engine_fixtures import LEAVE_REQUEST

INSTANCE_ID = "7f1d4f0e-4c0b-4a8e-9a43-3a3b6c1f6f10"
AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=5)

Carry = Callable[[InstanceState], InstanceState]
T = TypeVar("T")

# DESIGN.md's example.


def through_json(state: InstanceState) -> InstanceState:
    return InstanceState.model_validate(json.loads(json.dumps(state.model_dump(mode="json"))))


@pytest.fixture(params=["live", "restored"])
def carry(request: pytest.FixtureRequest) -> Carry:
    """How the state travels between events: as is, or saved to JSON and restored."""
    if request.param == "live":
        return lambda state: state
    return through_json


def leave_request() -> Definition:
    return parse_definition(copy.deepcopy(LEAVE_REQUEST))


def flow(nodes: list[dict[str, Any]], flows: list[dict[str, Any]]) -> Definition:
    return parse_definition({"key": "test", "name": "Test", "nodes": nodes, "flows": flows})


def begin(definition: Definition, **variables: Any) -> Transition:
    return start(
        definition, INSTANCE_ID, StartInstance(variables=variables, initiator="ann", at=AT)
    )


def complete(
    definition: Definition, state: InstanceState, task_id: str, **variables: Any
) -> Transition:
    event = CompleteTask(task_id=task_id, variables=variables, actor="bob", at=LATER)
    return complete_task(definition, state, event)


def of_kind(commands: list[Command], kind: type[T]) -> list[T]:
    return [command for command in commands if isinstance(command, kind)]


def history(commands: list[Command]) -> list[AppendHistory]:
    return of_kind(commands, AppendHistory)


def entered(commands: list[Command]) -> list[str | None]:
    return [
        event.node_id for event in history(commands) if event.type is HistoryEventType.NODE_ENTERED
    ]


def the_task(transition: Transition) -> CreateTask:
    (task,) = of_kind(transition.commands, CreateTask)
    return task


def run_leave_request(carry: Carry, *, approved: bool) -> list[Transition]:
    definition = leave_request()
    started = begin(definition, days=3, manager="bob")
    finished = complete(
        definition, carry(started.state), the_task(started).task_id, approved=approved
    )
    return [started, finished]


@pytest.mark.parametrize(("approved", "end"), [(True, "approved"), (False, "rejected")])
def test_leave_request_ends_where_the_decision_leads(
    carry: Carry, approved: bool, end: str
) -> None:
    started, finished = run_leave_request(carry, approved=approved)

    assert started.state.status is InstanceStatus.RUNNING
    assert entered(started.commands) == ["start", "review"]
    assert entered(finished.commands) == ["decide", end]
    assert finished.state.status is InstanceStatus.COMPLETED
    assert finished.state.tokens == []
    assert finished.state.open_tasks == {}
    assert history(finished.commands)[-1].type is HistoryEventType.INSTANCE_COMPLETED
    assert finished.state.variables == {"days": 3, "manager": "bob", "approved": approved}


@pytest.mark.parametrize("approved", [True, False])
def test_restored_state_finishes_with_identical_results(approved: bool) -> None:
    live = run_leave_request(lambda state: state, approved=approved)
    restored = run_leave_request(through_json, approved=approved)
    assert [t.model_dump(mode="json") for t in restored] == [
        t.model_dump(mode="json") for t in live
    ]


def test_state_round_trips_through_json_exactly() -> None:
    state = begin(leave_request(), days=3, manager="bob", nested={"a": [1, 2.5, None]}).state
    assert through_json(state) == state


def test_start_creates_the_task_with_resolved_fields() -> None:
    started = begin(leave_request(), days=3, manager="bob")
    task = the_task(started)
    assert task.node_id == "review"
    assert task.name == "Manager review"
    assert task.assignee == "bob"
    assert task.candidate_groups == ["managers"]
    assert task.candidate_users == []
    assert task.priority == 50
    assert task.due_at == AT + timedelta(days=2)
    assert task.form == LEAVE_REQUEST["nodes"][1]["form"]
    assert started.state.open_tasks == {task.task_id: started.state.tokens[0].id}


def test_start_records_who_started_with_what() -> None:
    first = history(begin(leave_request(), days=3, manager="bob").commands)[0]
    assert first.type is HistoryEventType.INSTANCE_STARTED
    assert first.actor == "ann"
    assert first.at == AT
    assert first.data == {"variables": {"days": 3, "manager": "bob"}, "initiator": "ann"}


def test_every_node_entered_and_left_is_recorded(carry: Carry) -> None:
    started, finished = run_leave_request(carry, approved=True)
    commands = started.commands + finished.commands
    left = [e.node_id for e in history(commands) if e.type is HistoryEventType.NODE_LEFT]
    assert entered(commands) == ["start", "review", "decide", "approved"]
    assert left == ["start", "review", "decide", "approved"]


def test_completion_closes_the_task_and_records_its_variables(carry: Carry) -> None:
    started, finished = run_leave_request(carry, approved=False)
    task_id = the_task(started).task_id
    assert of_kind(finished.commands, CloseTask) == [
        CloseTask(task_id=task_id, status=TaskStatus.COMPLETED, actor="bob")
    ]
    (completed,) = [
        e for e in history(finished.commands) if e.type is HistoryEventType.TASK_COMPLETED
    ]
    assert (completed.task_id, completed.node_id, completed.actor, completed.at) == (
        task_id,
        "review",
        "bob",
        LATER,
    )
    assert completed.data == {"variables": {"approved": False}}


def test_history_seq_rises_by_one_from_one_across_transitions(carry: Carry) -> None:
    started, finished = run_leave_request(carry, approved=True)
    seqs = [event.seq for event in history(started.commands + finished.commands)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert finished.state.seq == len(seqs)


def test_derived_ids_are_deterministic(carry: Carry) -> None:
    first = run_leave_request(carry, approved=True)
    second = run_leave_request(carry, approved=True)
    assert first == second
    namespace = UUID(INSTANCE_ID)
    started = first[0]
    assert started.state.tokens[0].id == str(uuid5(namespace, "token:1"))
    assert the_task(started).task_id == str(uuid5(namespace, "task:2"))


def test_ids_differ_between_instances() -> None:
    event = StartInstance(variables={"days": 3, "manager": "bob"}, at=AT)
    one = start(leave_request(), INSTANCE_ID, event)
    other = start(leave_request(), "0e3e0fb8-1f4a-4a53-8c8e-4b1b3e7a9a11", event)
    assert the_task(one).task_id != the_task(other).task_id


def test_commands_survive_json_as_a_union() -> None:
    started, finished = run_leave_request(lambda state: state, approved=True)
    commands = started.commands + finished.commands
    adapter = TypeAdapter(list[Command])
    assert adapter.validate_json(adapter.dump_json(commands)) == commands
    assert {type(command) for command in commands} == {AppendHistory, CreateTask, CloseTask}


def test_completing_an_unknown_task_is_rejected_without_change(carry: Carry) -> None:
    definition = leave_request()
    state = carry(begin(definition, days=3, manager="bob").state)
    before = state.model_dump(mode="json")

    assert can_complete(state, "no-such-task") is not None
    with pytest.raises(InvalidEvent, match="no-such-task"):
        complete(definition, state, "no-such-task", approved=True)
    assert state.model_dump(mode="json") == before


def test_completing_a_closed_task_is_rejected_without_change(carry: Carry) -> None:
    definition = leave_request()
    started = begin(definition, days=3, manager="bob")
    task_id = the_task(started).task_id
    finished = carry(complete(definition, carry(started.state), task_id, approved=True).state)
    before = finished.model_dump(mode="json")

    with pytest.raises(InvalidEvent):
        complete(definition, finished, task_id, approved=False)
    assert finished.model_dump(mode="json") == before


def test_completion_leaves_the_input_state_untouched() -> None:
    definition = leave_request()
    state = begin(definition, days=3, manager="bob").state
    before = state.model_dump(mode="json")
    complete(definition, state, next(iter(state.open_tasks)), approved=True)
    assert state.model_dump(mode="json") == before


def test_a_task_can_be_completed_only_while_running() -> None:
    definition = leave_request()
    state = begin(definition, days=3, manager="bob").state
    task_id = next(iter(state.open_tasks))
    assert can_complete(state, task_id) is None

    suspended = state.model_copy(update={"status": InstanceStatus.SUSPENDED})
    assert can_complete(suspended, task_id) == "instance is SUSPENDED, not RUNNING"
    with pytest.raises(InvalidEvent, match="SUSPENDED"):
        complete(definition, suspended, task_id, approved=True)


def test_start_rejects_an_instance_id_that_is_not_a_uuid() -> None:
    with pytest.raises(InvalidEvent, match="not a UUID"):
        start(leave_request(), "instance-1", StartInstance(at=AT))


def test_events_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone"):
        StartInstance(at=datetime(2025, 3, 3, 9, 0))


def test_a_process_without_wait_states_completes_on_start() -> None:
    started = begin(
        flow(
            [{"id": "start", "type": "startEvent"}, {"id": "end", "type": "endEvent"}],
            [{"from": "start", "to": "end"}],
        )
    )
    assert started.state.status is InstanceStatus.COMPLETED
    assert [e.type for e in history(started.commands)] == [
        HistoryEventType.INSTANCE_STARTED,
        HistoryEventType.NODE_ENTERED,
        HistoryEventType.NODE_LEFT,
        HistoryEventType.NODE_ENTERED,
        HistoryEventType.NODE_LEFT,
        HistoryEventType.INSTANCE_COMPLETED,
    ]


GATEWAY_NODES = [
    {"id": "start", "type": "startEvent"},
    {"id": "decide", "type": "exclusiveGateway"},
    {"id": "small", "type": "endEvent"},
    {"id": "large", "type": "endEvent"},
]


@pytest.mark.parametrize(("amount", "end"), [(5, "small"), (50, "large"), (500, "large")])
def test_first_true_condition_in_flow_order_wins(amount: int, end: str) -> None:
    definition = flow(
        GATEWAY_NODES,
        [
            {"from": "start", "to": "decide"},
            {"from": "decide", "to": "small", "condition": "amount < 10"},
            {"from": "decide", "to": "large", "condition": "amount >= 10"},
            {"from": "decide", "to": "small", "condition": "amount >= 10"},
        ],
    )
    assert entered(begin(definition, amount=amount).commands)[-1] == end


def unmatched_gateway() -> Definition:
    return flow(
        GATEWAY_NODES,
        [
            {"from": "start", "to": "decide"},
            {"from": "decide", "to": "small", "condition": "amount < 10"},
            {"from": "decide", "to": "large", "condition": "amount > 100"},
        ],
    )


def assert_incident_at(transition: Transition, node_id: str, message: str) -> None:
    assert transition.state.status is InstanceStatus.INCIDENT
    assert [token.node_id for token in transition.state.tokens] == [node_id]
    (incident,) = of_kind(transition.commands, RaiseIncident)
    assert incident.node_id == node_id
    assert message in incident.message
    raised = history(transition.commands)[-1]
    assert (raised.type, raised.node_id) == (HistoryEventType.INCIDENT_RAISED, node_id)
    assert raised.data == {"message": incident.message}


def test_gateway_without_true_condition_or_default_raises_an_incident() -> None:
    started = begin(unmatched_gateway(), amount=50)
    assert_incident_at(started, "decide", "no condition of gateway 'decide' holds")
    assert entered(started.commands) == ["start", "decide"]


def test_condition_that_fails_to_evaluate_raises_an_incident() -> None:
    started = begin(unmatched_gateway())  # `amount` is missing
    assert_incident_at(started, "decide", "amount < 10")


def test_condition_that_is_not_boolean_raises_an_incident() -> None:
    definition = flow(
        GATEWAY_NODES,
        [
            {"from": "start", "to": "decide"},
            {"from": "decide", "to": "small", "condition": "amount"},
            {"from": "decide", "to": "large", "default": True},
        ],
    )
    assert_incident_at(begin(definition, amount=1), "decide", "not true or false")


def test_gateway_after_a_task_raises_the_incident_on_completion(carry: Carry) -> None:
    definition = flow(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "review", "type": "userTask"},
            *GATEWAY_NODES[1:],
        ],
        [
            {"from": "start", "to": "review"},
            {"from": "review", "to": "decide"},
            {"from": "decide", "to": "small", "condition": "amount < 10"},
            {"from": "decide", "to": "large", "condition": "amount > 100"},
        ],
    )
    started = begin(definition)
    finished = complete(definition, carry(started.state), the_task(started).task_id, amount=50)
    assert_incident_at(finished, "decide", "no condition of gateway 'decide' holds")
    assert finished.state.open_tasks == {}
    assert finished.state.variables == {"amount": 50}


def test_incident_state_survives_json_and_rejects_completion() -> None:
    state = through_json(begin(unmatched_gateway(), amount=50).state)
    assert state.status is InstanceStatus.INCIDENT
    assert can_complete(state, "any") == "instance is INCIDENT, not RUNNING"


def test_a_cycle_without_wait_state_becomes_an_incident() -> None:
    definition = flow(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "ping", "type": "exclusiveGateway"},
            {"id": "pong", "type": "exclusiveGateway"},
            {"id": "end", "type": "endEvent"},
        ],
        [
            {"from": "start", "to": "ping"},
            {"from": "ping", "to": "pong", "condition": "again"},
            {"from": "ping", "to": "end", "default": True},
            {"from": "pong", "to": "ping"},
        ],
    )
    started = begin(definition, again=True)
    assert_incident_at(started, entered(started.commands)[-1] or "", f"{MAX_STEPS} steps")
    assert len(entered(started.commands)) == MAX_STEPS + 1


TWO_TASKS: list[dict[str, Any]] = [
    {"id": "start", "type": "startEvent"},
    {
        "id": "draft",
        "type": "userTask",
        "assignee": "=initiator",
        "candidateUsers": ["=reviewers", "carol", "=backup"],
        "priority": "=amount > 1000 ? 90 : 20",
        "due": "=urgent ? 'PT4H' : 'P3D'",
    },
    {
        "id": "sign",
        "type": "userTask",
        "assignee": "=initiator",
        "candidateGroups": ["=department + '-leads'"],
        "priority": "=amount",
        "due": "=timestamp(deadline)",
    },
    {"id": "end", "type": "endEvent"},
]
TWO_TASKS_FLOWS = [
    {"from": "start", "to": "draft"},
    {"from": "draft", "to": "sign"},
    {"from": "sign", "to": "end"},
]


def test_expressions_in_task_fields_are_evaluated(carry: Carry) -> None:
    definition = flow(TWO_TASKS, TWO_TASKS_FLOWS)
    started = begin(definition, reviewers=["dave", "carol"], backup=None, amount=5000, urgent=True)

    draft = the_task(started)
    assert draft.assignee == "ann"
    assert draft.candidate_users == ["dave", "carol"]
    assert draft.priority == 90
    assert draft.due_at == AT + timedelta(hours=4)

    # `initiator` is still known to a task created by a later event.
    signing = complete(
        definition,
        carry(started.state),
        draft.task_id,
        department="sales",
        amount=7,
        deadline="2025-03-10T17:00:00Z",
    )
    sign = the_task(signing)
    assert sign.assignee == "ann"
    assert sign.candidate_groups == ["sales-leads"]
    assert sign.priority == 7
    assert sign.due_at == datetime(2025, 3, 10, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("amount", "priority"), [(500, 100), (-3, 0), (100, 100), (0, 0)])
def test_a_priority_expression_outside_the_range_is_clamped(amount: int, priority: int) -> None:
    definition = flow(TWO_TASKS, TWO_TASKS_FLOWS)
    started = begin(definition, reviewers=[], backup=None, amount=5000, urgent=True)
    signing = complete(
        definition,
        started.state,
        the_task(started).task_id,
        department="sales",
        amount=amount,
        deadline="2025-03-10T17:00:00Z",
    )
    assert the_task(signing).priority == priority


def test_task_field_that_fails_to_evaluate_raises_an_incident_at_the_task() -> None:
    definition = flow(TWO_TASKS, TWO_TASKS_FLOWS)
    started = begin(definition, reviewers=[], backup="eve", amount="lots", urgent=False)
    assert_incident_at(started, "draft", "priority")
    assert started.state.open_tasks == {}
    assert of_kind(started.commands, CreateTask) == []
