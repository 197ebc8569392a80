"""What people do to an instance as a whole: suspend and resume it, cancel it, set its
variables, retry its incidents."""

import copy
from functools import partial
from typing import TYPE_CHECKING

from engine.enums import HistoryEventType, InstanceStatus
from engine.events import Cancel, Resume, RetryIncident, SetVariables, Suspend
from engine.node_types import ServiceTask
from engine.nodes import calls, services, start_work
from engine.nodes.waits import cancel_waits
from engine.state import Incident, Redo, Token

if TYPE_CHECKING:
    from engine.run import Run


def suspend(run: "Run", event: Suspend) -> None:
    run.state.status = InstanceStatus.SUSPENDED
    run.history(
        HistoryEventType.INSTANCE_SUSPENDED, actor=event.actor, data={"reason": event.reason}
    )


def resume(run: "Run", event: Resume) -> None:
    """Back to RUNNING, or to INCIDENT if it was suspended with incidents open; the
    caller then applies the events deferred meanwhile."""
    run.state.status = InstanceStatus.INCIDENT if run.state.incidents else InstanceStatus.RUNNING
    run.history(HistoryEventType.INSTANCE_RESUMED, actor=event.actor)


def cancel(run: "Run", event: Cancel) -> None:
    """Close every open task, stop every timer, service job and child, drop the tokens."""
    for token in list(run.state.tokens):
        cancel_waits(run, token, event.actor)
    run.state.tokens.clear()
    run.state.incidents.clear()
    run.state.deferred.clear()
    run.state.status = InstanceStatus.CANCELLED
    run.history(
        HistoryEventType.INSTANCE_CANCELLED, actor=event.actor, data={"reason": event.reason}
    )


def set_variables(run: "Run", event: SetVariables) -> None:
    run.state.variables.update(copy.deepcopy(event.variables))
    run.history(
        HistoryEventType.VARIABLES_UPDATED,
        actor=event.actor,
        data={"variables": copy.deepcopy(event.variables)},
    )


def retry_incident(run: "Run", event: RetryIncident) -> list[Token]:
    """Redo what failed at each incident, in the order they were raised; what fails
    again raises a new incident."""
    incidents = list(run.state.incidents.items())
    run.state.incidents.clear()
    run.state.status = InstanceStatus.RUNNING
    moving: list[Token] = []
    for token_id, incident in incidents:
        token = run.token(token_id)
        run.history(
            HistoryEventType.INCIDENT_RESOLVED,
            node_id=incident.node_id,
            actor=event.actor,
            data={"message": incident.message},
        )
        moving += _redo(run, token, incident)
    return moving


def _redo(run: "Run", token: Token, incident: Incident) -> list[Token]:
    node = run.definition.node(token.node_id)
    match incident.redo:
        case Redo.ENTER:
            return [token]
        case Redo.WORK:
            return run.attempt(token, partial(start_work, run, token, node), Redo.WORK)
        case Redo.RESULT if isinstance(node, ServiceTask):
            step = partial(services.apply_result, run, token, incident.result)
        case Redo.RESULT:
            step = partial(calls.apply_result, run, token, incident.result)
    return run.attempt(token, step, Redo.RESULT, incident.result)
