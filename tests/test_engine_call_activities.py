"""Call activities: a child instance started with mapped inputs, its outputs copied back,
its failure caught or held in an incident."""

from typing import Any

from engine.commands import RaiseIncident, StartChild
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import ChildCompleted, ChildFailed, RetryIncident
from engine.state import Redo
from tests.engine_fixtures import Scenario, chain, definition, entered, history, of_kind, types


def calling(node: dict[str, Any], *, boundary: dict[str, Any] | None = None) -> Definition:
    nodes = [{"id": "start", "type": "startEvent"}, node, {"id": "end", "type": "endEvent"}]
    flows = chain("start", node["id"], "end")
    if boundary is not None:
        nodes += [boundary, {"id": "failed", "type": "endEvent"}]
        flows += chain(boundary["id"], "failed")
    return definition(nodes, flows)


ONBOARD: dict[str, Any] = {
    "id": "onboard",
    "type": "callActivity",
    "calledElement": "it_access_request",
    "version": 3,
    "inputs": {"employee": "=name", "systems": ["mail", "=extra"], "level": 2},
    "outputs": {"access_granted": "granted", "systems_count": "size(systems)"},
}


def start_child(scenario: Scenario) -> StartChild:
    (command,) = of_kind(scenario.last.commands, StartChild)
    return command


def test_a_call_activity_starts_the_child_with_its_inputs() -> None:
    scenario = Scenario(calling(ONBOARD), name="ann", extra="vpn", secret="x")
    command = start_child(scenario)
    assert (command.node_id, command.key, command.version) == ("onboard", "it_access_request", 3)
    assert command.variables == {"employee": "ann", "systems": ["mail", "vpn"], "level": 2}
    assert scenario.state.children[command.child_id].node_id == "onboard"
    started = history(scenario.last.commands)[-1]
    assert (started.type, started.data) == (
        HistoryEventType.CHILD_STARTED,
        {"child_id": command.child_id, "key": "it_access_request", "version": 3},
    )


def test_without_inputs_the_child_gets_every_variable_of_the_latest_version() -> None:
    scenario = Scenario(
        calling({"id": "onboard", "type": "callActivity", "calledElement": "it"}), a=1, b=[2]
    )
    command = start_child(scenario)
    assert (command.variables, command.version) == ({"a": 1, "b": [2]}, None)


def test_the_outputs_are_copied_back_from_the_child() -> None:
    scenario = Scenario(calling(ONBOARD), name="ann", extra="vpn")
    child_id = start_child(scenario).child_id
    final = {"granted": True, "systems": ["mail", "vpn"], "internal": 1}
    done = scenario.send(ChildCompleted(child_id=child_id, variables=final, at=scenario.now))
    assert scenario.state.variables == {
        "name": "ann",
        "extra": "vpn",
        "access_granted": True,
        "systems_count": 2,
    }
    assert history(done.commands)[0].data == {"child_id": child_id, "variables": final}
    assert scenario.status() is InstanceStatus.COMPLETED


def test_without_outputs_nothing_is_copied_back() -> None:
    scenario = Scenario(calling({"id": "c", "type": "callActivity", "calledElement": "it"}), a=1)
    scenario.send(ChildCompleted(child_id=scenario.child(), variables={"b": 2}, at=scenario.now))
    assert scenario.state.variables == {"a": 1}


def test_outputs_that_fail_are_an_incident_that_keeps_the_child_variables() -> None:
    scenario = Scenario(calling(ONBOARD), name="ann", extra="vpn")
    scenario.send(ChildCompleted(child_id=scenario.child(), variables={}, at=scenario.now))
    (incident,) = scenario.state.incidents.values()
    assert (incident.redo, incident.result) == (Redo.RESULT, {})
    assert "outputs.access_granted" in incident.message


def test_a_child_failure_without_error_boundary_raises_an_incident_and_retry_restarts_it() -> None:
    scenario = Scenario(calling(ONBOARD), name="ann", extra="vpn")
    first = scenario.child()
    scenario.send(ChildFailed(child_id=first, message="child was terminated", at=scenario.now))
    assert scenario.status() is InstanceStatus.INCIDENT
    assert of_kind(scenario.last.commands, RaiseIncident) == [
        RaiseIncident(
            node_id="onboard", message="called 'it_access_request' failed: child was terminated"
        )
    ]
    assert types(scenario.last.commands)[0] is HistoryEventType.CHILD_FAILED

    scenario.send(RetryIncident(actor="admin", at=scenario.now))
    second = start_child(scenario).child_id
    assert second != first
    assert scenario.status() is InstanceStatus.RUNNING
    assert list(scenario.state.children) == [second]


def test_an_error_boundary_catches_a_child_failure_with_its_code() -> None:
    boundary = {
        "id": "rejected",
        "type": "errorBoundary",
        "attachedTo": "onboard",
        "errorCode": "DENIED",
    }
    scenario = Scenario(calling(ONBOARD, boundary=boundary), name="ann", extra="vpn")
    scenario.send(
        ChildFailed(child_id=scenario.child(), error_code="DENIED", message="no", at=scenario.now)
    )
    assert entered(scenario.last.commands) == ["rejected", "failed"]
    assert scenario.status() is InstanceStatus.COMPLETED


def test_a_result_from_a_child_no_longer_waited_for_is_ignored() -> None:
    scenario = Scenario(calling(ONBOARD), name="ann", extra="vpn")
    first = scenario.child()
    scenario.send(ChildFailed(child_id=first, message="boom", at=scenario.now))
    scenario.send(RetryIncident(actor="admin", at=scenario.now))
    late = scenario.send(
        ChildCompleted(child_id=first, variables={"granted": True}, at=scenario.now)
    )
    assert late.commands == []
