"""End events beyond the plain one: terminate (ends the whole instance, stopping every
other path) and error (throws an error, which at a process's top level nothing catches)."""

from typing import Any

from engine.bpmn import bpmn_to_definition, import_bpmn
from engine.commands import CancelChild, CancelService, CancelTimer, CloseTask, RaiseIncident
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.events import RetryIncident
from engine.validation import parse_definition, validate_definition
from tests.engine_fixtures import Scenario, chain, definition, history, of_kind, types
from tests.test_engine_bpmn import document, messages, node


def racing(end: dict[str, Any]) -> Definition:
    """Four paths at once: a user task with a boundary timer, a service task, a call
    activity, and a user task whose completion reaches `end`."""
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            {"id": "fork", "type": "parallelGateway"},
            {"id": "review", "type": "userTask"},
            {"id": "remind", "type": "timer", "attachedTo": "review", "duration": "P1D"},
            {"id": "charge", "type": "serviceTask", "action": "http"},
            {"id": "onboard", "type": "callActivity", "calledElement": "child"},
            {"id": "decide", "type": "userTask"},
            {"id": "join", "type": "parallelGateway"},
            {"id": "quick", "type": "endEvent", **end},
            {"id": "end", "type": "endEvent"},
        ],
        [
            *chain("start", "fork"),
            *[
                flow
                for task in ("review", "charge", "onboard")
                for flow in chain("fork", task, "join")
            ],
            *chain("fork", "decide", "quick"),
            *chain("remind", "end"),
            *chain("join", "end"),
        ],
    )


def test_a_terminate_end_stops_every_other_path_and_completes_the_instance() -> None:
    scenario = Scenario(racing({"terminate": True}))
    timer, job, child = scenario.timer("remind"), scenario.job("charge"), scenario.child("onboard")
    review, decide = scenario.task("review"), scenario.task("decide")

    # Scenario.send also replays each event on the state saved to JSON and restored.
    done = scenario.complete(decide)
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.state.tokens == []
    assert (scenario.state.open_tasks, scenario.state.timers) == ({}, {})
    assert (scenario.state.jobs, scenario.state.children) == ({}, {})
    assert [(c.task_id, c.status) for c in of_kind(done.commands, CloseTask)] == [
        (decide, TaskStatus.COMPLETED),
        (review, TaskStatus.CANCELLED),
    ]
    assert [c.timer_id for c in of_kind(done.commands, CancelTimer)] == [timer]
    assert [c.job_id for c in of_kind(done.commands, CancelService)] == [job]
    assert [c.child_id for c in of_kind(done.commands, CancelChild)] == [child]
    left = [e.node_id for e in history(done.commands) if e.type is HistoryEventType.NODE_LEFT]
    assert left == ["decide", "quick", "review", "charge", "onboard"]
    completed = history(done.commands)[-1]
    assert (completed.type, completed.data) == (
        HistoryEventType.INSTANCE_COMPLETED,
        {"terminated_by": "quick"},
    )
    # The stopped work's late reports are ignored.
    assert scenario.fire(timer).commands == []


def test_a_terminate_end_also_drops_paths_stopped_in_an_incident() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "fork", "type": "parallelGateway"},
                {
                    "id": "charge",
                    "type": "serviceTask",
                    "action": "http",
                    "input": {"x": "=nope.x"},
                },
                {"id": "stop", "type": "endEvent", "terminate": True},
                {"id": "end", "type": "endEvent"},
            ],
            [*chain("start", "fork", "charge", "end"), *chain("fork", "stop")],
        )
    )
    assert "INCIDENT_RAISED" in types(scenario.last.commands)
    assert scenario.status() is InstanceStatus.COMPLETED
    assert (scenario.state.incidents, scenario.state.tokens) == ({}, [])


def test_a_terminate_end_reached_in_the_same_step_as_other_paths_stops_them_there() -> None:
    scenario = Scenario(
        definition(
            [
                {"id": "start", "type": "startEvent"},
                {"id": "fork", "type": "parallelGateway"},
                {"id": "stop", "type": "endEvent", "terminate": True},
                {"id": "note", "type": "task"},
                {"id": "review", "type": "userTask"},
                {"id": "end", "type": "endEvent"},
            ],
            [*chain("start", "fork", "stop"), *chain("fork", "note", "review", "end")],
        )
    )
    assert scenario.status() is InstanceStatus.COMPLETED
    # The other token had entered `note` but never ran it: no task was created.
    assert "TASK_CREATED" not in types(scenario.last.commands)
    assert scenario.state.tokens == []


def test_a_plain_end_leaves_other_paths_running() -> None:
    scenario = Scenario(racing({}))
    scenario.complete(scenario.task("decide"))
    assert scenario.status() is InstanceStatus.RUNNING
    assert len(scenario.state.tokens) == 3


def test_an_uncaught_error_end_is_an_incident_at_the_end_event() -> None:
    scenario = Scenario(racing({"errorCode": "NO_BUDGET"}))
    thrown = scenario.complete(scenario.task("decide"))
    assert scenario.status() is InstanceStatus.INCIDENT
    (incident,) = of_kind(thrown.commands, RaiseIncident)
    message = "error 'NO_BUDGET' thrown by end event 'quick' is caught by no errorBoundary"
    assert (incident.node_id, incident.message) == ("quick", message)
    # The other paths keep waiting.
    assert len(scenario.state.tokens) == 4 and scenario.tasks("review")

    retried = scenario.send(RetryIncident(actor="op", at=scenario.now))
    assert [c.message for c in of_kind(retried.commands, RaiseIncident)] == [message]
    assert scenario.status() is InstanceStatus.INCIDENT


def test_end_event_fields_are_validated() -> None:
    def problems(end: dict[str, Any]) -> list[tuple[str, str]]:
        document = {
            "key": "k",
            "name": "K",
            "nodes": [
                {"id": "start", "type": "startEvent"},
                {"id": "end", "type": "endEvent", **end},
            ],
            "flows": chain("start", "end"),
        }
        return [(p.path, p.message) for p in validate_definition(document)]

    assert problems({"terminate": True}) == []
    assert problems({"errorCode": "E"}) == []
    assert problems({"terminate": True, "errorCode": "E"}) == [
        ("nodes[1]", "an end event terminates or throws an error, not both")
    ]
    assert [path for path, _ in problems({"errorCode": ""})] == ["nodes[1].errorCode"]
    assert [path for path, _ in problems({"terminate": "sometimes"})] == ["nodes[1].terminate"]


def test_bpmn_terminate_and_error_end_events_map() -> None:
    terminate = '<bpmn:endEvent id="end"><bpmn:terminateEventDefinition /></bpmn:endEvent>'
    assert node(terminate) == {"id": "end", "type": "endEvent", "terminate": True}
    error = '<bpmn:endEvent id="end"><bpmn:errorEventDefinition errorRef="e1" /></bpmn:endEvent>'
    root = '<bpmn:error id="e1" name="No budget" errorCode="NO_BUDGET" />'
    assert node(error, root=root) == {"id": "end", "type": "endEvent", "errorCode": "NO_BUDGET"}
    assert node('<bpmn:endEvent id="end" />') == {"id": "end", "type": "endEvent"}


def test_a_bpmn_error_end_needs_an_error_with_a_code() -> None:
    for root, error_ref, message in (
        (
            '<bpmn:error id="e1" />',
            ' errorRef="e1"',
            "error 'e1' has no errorCode: an error end throws a code",
        ),
        ("", "", "an error end event needs an errorRef to an error with an errorCode"),
    ):
        xml = document(
            f'<bpmn:endEvent id="end"><bpmn:errorEventDefinition{error_ref} /></bpmn:endEvent>',
            root=root,
        )
        assert messages(xml) == [message]


def test_a_bpmn_error_end_naming_no_error_throws_that_name_as_camunda_7_reads_it() -> None:
    xml = document(
        '<bpmn:endEvent id="end"><bpmn:errorEventDefinition errorRef="missing" /></bpmn:endEvent>'
    )
    imported = import_bpmn(xml)
    [end] = [n for n in imported.definition["nodes"] if n["id"] == "end"]
    assert end["errorCode"] == "missing"
    assert any("which the document does not define" in w.message for w in imported.warnings)


def test_an_imported_terminate_end_runs() -> None:
    xml = document(
        '<bpmn:startEvent id="start" />'
        '<bpmn:parallelGateway id="fork" />'
        '<bpmn:userTask id="wait" />'
        '<bpmn:endEvent id="end" />'
        '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition /></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="wait" />'
        '<bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />'
        '<bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="stop" />'
    )
    scenario = Scenario(parse_definition(bpmn_to_definition(xml)))
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.state.open_tasks == {}
