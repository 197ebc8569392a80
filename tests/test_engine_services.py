"""Service tasks: the work asked for, results mapped into the variables, failures caught
by error boundaries or held in an incident until retried."""

from datetime import timedelta
from typing import Any

import pytest

from engine.commands import RaiseIncident, RunService, StartTimer
from engine.definition import Definition
from engine.enums import HistoryEventType, InstanceStatus
from engine.events import RetryIncident, ServiceFailed, SetVariables
from engine.retries import RetrySpec
from engine.state import Redo
from tests.engine_fixtures import Scenario, chain, definition, entered, history, of_kind, types

CHARGE: dict[str, Any] = {
    "id": "charge",
    "type": "serviceTask",
    "action": "http",
    "input": {
        "method": "POST",
        "url": "=billing_url",
        "json": {"amount": "=amount * 100", "lines": ["=customer", "fixed"]},
    },
    "output": {"charge_id": "result.body.id", "paid": "result.status == 201 && amount > 0"},
    "retry": {"maxAttempts": 5, "initialInterval": "PT2S", "nonRetryable": ["HTTP_4XX"]},
    "timeout": "PT30S",
}
START: dict[str, Any] = {"billing_url": "https://billing/charges", "amount": 12, "customer": "acme"}


def service(
    node: dict[str, Any], *boundaries: dict[str, Any], extra_ends: tuple[str, ...] = ()
) -> Definition:
    return definition(
        [
            {"id": "start", "type": "startEvent"},
            node,
            *boundaries,
            {"id": "end", "type": "endEvent"},
            *({"id": end, "type": "endEvent"} for end in extra_ends),
        ],
        [
            *chain("start", node["id"], "end"),
            *({"from": b["id"], "to": f"after_{b['id']}"} for b in boundaries),
        ],
    )


def run_service(scenario: Scenario) -> RunService:
    (command,) = of_kind(scenario.last.commands, RunService)
    return command


def test_a_service_task_asks_for_its_action_with_the_input_evaluated() -> None:
    scenario = Scenario(service(CHARGE), **START)
    command = run_service(scenario)
    assert command.node_id == "charge"
    assert command.action == "http"
    assert command.input == {
        "method": "POST",
        "url": "https://billing/charges",
        "json": {"amount": 1200, "lines": ["acme", "fixed"]},
    }
    assert command.output == CHARGE["output"]
    assert command.retry == RetrySpec(
        max_attempts=5,
        initial_interval=timedelta(seconds=2),
        backoff=2.0,
        max_interval=timedelta(minutes=1),
        non_retryable=["HTTP_4XX"],
    )
    assert command.timeout == timedelta(seconds=30)
    assert scenario.state.jobs[command.job_id].node_id == "charge"
    started = history(scenario.last.commands)[-1]
    assert (started.type, started.data) == (
        HistoryEventType.SERVICE_STARTED,
        {"job_id": command.job_id, "action": "http"},
    )


def test_a_service_task_without_retry_gets_the_default_policy() -> None:
    scenario = Scenario(service({"id": "note", "type": "serviceTask", "action": "log"}))
    command = run_service(scenario)
    assert command.retry == RetrySpec(
        max_attempts=3,
        initial_interval=timedelta(seconds=1),
        backoff=2.0,
        max_interval=timedelta(minutes=1),
        non_retryable=[],
    )
    assert (command.input, command.output, command.timeout) == ({}, None, None)


def test_the_output_mapping_sets_variables_from_the_result() -> None:
    scenario = Scenario(service(CHARGE), **START)
    job_id = run_service(scenario).job_id
    done = scenario.succeed(job_id, {"status": 201, "body": {"id": "ch_1"}})
    assert scenario.state.variables == {**START, "charge_id": "ch_1", "paid": True}
    assert history(done.commands)[0].data == {
        "job_id": job_id,
        "result": {"status": 201, "body": {"id": "ch_1"}},
    }
    assert entered(done.commands) == ["end"]
    assert scenario.status() is InstanceStatus.COMPLETED
    assert scenario.state.jobs == {}


def test_a_set_action_without_output_merges_its_result() -> None:
    node = {"id": "mark", "type": "serviceTask", "action": "set", "input": {"stage": "=next"}}
    scenario = Scenario(service(node), next="billing")
    scenario.succeed(scenario.job(), {"stage": "billing"})
    assert scenario.state.variables == {"next": "billing", "stage": "billing"}


def test_another_action_without_output_leaves_the_variables_alone() -> None:
    scenario = Scenario(service({"id": "note", "type": "serviceTask", "action": "log"}), a=1)
    scenario.succeed(scenario.job(), {"logged": True})
    assert scenario.state.variables == {"a": 1}


def test_an_output_mapping_that_fails_is_an_incident_retried_without_running_again() -> None:
    node = {
        "id": "charge",
        "type": "serviceTask",
        "action": "http",
        "output": {"status": "result.status", "charge_id": "result.body.id + suffix"},
    }
    scenario = Scenario(service(node))
    scenario.succeed(scenario.job(), {"status": 201, "body": {"id": "ch"}})
    assert scenario.status() is InstanceStatus.INCIDENT  # `suffix` is missing
    (incident,) = scenario.state.incidents.values()
    assert (incident.node_id, incident.redo) == ("charge", Redo.RESULT)
    assert "output.charge_id" in incident.message
    assert scenario.state.variables == {}  # all or nothing

    retried = scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert of_kind(retried.commands, RunService) == []
    assert scenario.status() is InstanceStatus.INCIDENT  # failed the same way again

    scenario.send(SetVariables(variables={"suffix": "-1"}, actor="admin", at=scenario.now))
    retried = scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert of_kind(retried.commands, RunService) == []
    assert scenario.state.variables == {"suffix": "-1", "status": 201, "charge_id": "ch-1"}
    assert scenario.status() is InstanceStatus.COMPLETED


def failed(scenario: Scenario, job_id: str, code: str | None = None) -> None:
    scenario.send(
        ServiceFailed(
            job_id=job_id, error_code=code, message="402 Payment Required", at=scenario.now
        )
    )


def test_a_failure_without_error_boundary_raises_an_incident_at_the_task() -> None:
    scenario = Scenario(service(CHARGE), **START)
    job_id = run_service(scenario).job_id
    failed(scenario, job_id, "HTTP_4XX")
    assert scenario.status() is InstanceStatus.INCIDENT
    assert [token.node_id for token in scenario.state.tokens] == ["charge"]
    (incident,) = of_kind(scenario.last.commands, RaiseIncident)
    assert incident == RaiseIncident(
        node_id="charge", message="action 'http' failed (HTTP_4XX): 402 Payment Required"
    )
    assert types(scenario.last.commands) == [
        HistoryEventType.SERVICE_FAILED,
        HistoryEventType.INCIDENT_RAISED,
    ]
    assert history(scenario.last.commands)[0].data == {
        "job_id": job_id,
        "error_code": "HTTP_4XX",
        "message": "402 Payment Required",
    }


def test_retrying_the_incident_runs_the_service_again_under_a_new_job() -> None:
    scenario = Scenario(service(CHARGE), **START)
    old_job = run_service(scenario).job_id
    failed(scenario, old_job)
    retried = scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert scenario.status() is InstanceStatus.RUNNING
    resolved = history(retried.commands)[0]
    assert (resolved.type, resolved.node_id, resolved.actor) == (
        HistoryEventType.INCIDENT_RESOLVED,
        "charge",
        "admin",
    )
    assert resolved.data == {"message": "action 'http' failed: 402 Payment Required"}
    new_job = run_service(scenario).job_id
    assert new_job != old_job
    assert scenario.state.incidents == {}

    assert scenario.succeed(old_job, {"status": 201, "body": {"id": "stale"}}).commands == []
    scenario.succeed(new_job, {"status": 201, "body": {"id": "ch_3"}})
    assert scenario.state.variables["charge_id"] == "ch_3"
    assert scenario.status() is InstanceStatus.COMPLETED


def error_boundary(boundary_id: str, code: str | None) -> dict[str, Any]:
    boundary = {"id": boundary_id, "type": "errorBoundary", "attachedTo": "charge"}
    return boundary | ({"errorCode": code} if code else {})


def with_boundaries(*boundaries: dict[str, Any]) -> Definition:
    timer = {"id": "slow", "type": "timer", "attachedTo": "charge", "duration": "PT5M"}
    return service(
        CHARGE,
        *boundaries,
        timer,
        extra_ends=tuple(f"after_{b['id']}" for b in [*boundaries, timer]),
    )


@pytest.mark.parametrize(
    ("code", "caught_by"),
    [("HTTP_4XX", "declined"), ("HTTP_5XX", "any_error"), (None, "any_error")],
)
def test_an_error_boundary_for_the_code_or_for_any_catches_the_failure(
    code: str | None, caught_by: str
) -> None:
    scenario = Scenario(
        with_boundaries(error_boundary("any_error", None), error_boundary("declined", "HTTP_4XX")),
        **START,
    )
    failed(scenario, scenario.job(), code)
    assert scenario.status() is InstanceStatus.COMPLETED
    assert entered(scenario.last.commands) == [caught_by, f"after_{caught_by}"]
    assert HistoryEventType.TIMER_CANCELLED in types(scenario.last.commands)
    assert scenario.state.timers == {}


def test_an_error_boundary_for_another_code_lets_the_failure_become_an_incident() -> None:
    scenario = Scenario(with_boundaries(error_boundary("declined", "HTTP_4XX")), **START)
    failed(scenario, scenario.job(), "HTTP_5XX")
    assert scenario.status() is InstanceStatus.INCIDENT
    assert [token.node_id for token in scenario.state.tokens] == ["charge"]


def test_an_input_that_fails_to_evaluate_is_retried_without_restarting_boundary_timers() -> None:
    scenario = Scenario(with_boundaries(), billing_url="https://billing", customer="acme")
    assert scenario.status() is InstanceStatus.INCIDENT  # `amount` is missing
    assert len(of_kind(scenario.last.commands, StartTimer)) == 1
    (incident,) = scenario.state.incidents.values()
    assert (incident.redo, "input" in incident.message) == (Redo.WORK, True)

    scenario.send(SetVariables(variables={"amount": 3}, actor="admin", at=scenario.now))
    retried = scenario.send(RetryIncident(actor="admin", at=scenario.now))
    assert of_kind(retried.commands, StartTimer) == []
    assert run_service(scenario).input["json"]["amount"] == 300
    assert len(scenario.state.timers) == 1
