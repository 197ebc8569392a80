"""Service tasks: automatic work the caller runs (with the node's retry policy) and
reports on; the engine maps the result into the variables itself."""

import copy
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.commands import RunService
from engine.durations import parse_duration
from engine.enums import HistoryEventType
from engine.events import ServiceCompleted, ServiceFailed
from engine.node_types import ServiceTask
from engine.nodes import boundaries
from engine.retries import RetrySpec
from engine.state import Redo, Token, Wait

if TYPE_CHECKING:
    from engine.run import Run


def start(run: "Run", token: Token, node: ServiceTask) -> None:
    """Ask for the action to run, with its input evaluated now; a new job id each time,
    so a retry's result is never mistaken for an earlier attempt's."""
    arguments = run.resolve_nested("input", node.input or {})
    job_id = run.new_id("job")
    run.state.jobs[job_id] = Wait(node_id=node.id, token_id=token.id)
    run.emit(
        RunService(
            job_id=job_id,
            node_id=node.id,
            action=node.action,
            input=arguments,
            output=dict(node.output) if node.output is not None else None,
            retry=RetrySpec.of(node.retry),
            timeout=_timeout(node),
        )
    )
    run.history(
        HistoryEventType.SERVICE_STARTED,
        node_id=node.id,
        data={"job_id": job_id, "action": node.action},
    )


def completed(run: "Run", event: ServiceCompleted) -> list[Token]:
    """Apply the result and move on; the caller has checked that the job is running."""
    job = run.state.jobs.pop(event.job_id)
    token = run.token(job.token_id)
    run.history(
        HistoryEventType.SERVICE_COMPLETED,
        node_id=job.node_id,
        data={"job_id": event.job_id, "result": copy.deepcopy(event.result)},
    )
    return run.attempt(
        token, partial(apply_result, run, token, event.result), Redo.RESULT, event.result
    )


def apply_result(run: "Run", token: Token, result: Any) -> list[Token]:
    """Set the variables `output` maps from the result (all or none), or merge a `set`
    action's object, then leave the task."""
    node = run.definition.node_of(token.node_id, ServiceTask)
    if node.output is not None:
        updates = run.mapped("output", node.output, {**run.context(), "result": result})
    elif node.action == "set" and isinstance(result, dict):
        updates = copy.deepcopy(result)
    else:
        updates = {}
    run.state.variables.update(updates)
    return run.leave(token)


def failed(run: "Run", event: ServiceFailed) -> list[Token]:
    job = run.state.jobs.pop(event.job_id)
    token = run.token(job.token_id)
    node = run.definition.node_of(job.node_id, ServiceTask)
    run.history(
        HistoryEventType.SERVICE_FAILED,
        node_id=node.id,
        data={"job_id": event.job_id, "error_code": event.error_code, "message": event.message},
    )
    code = f" ({event.error_code})" if event.error_code else ""
    message = f"action {node.action!r} failed{code}: {event.message}"
    return boundaries.catch(run, token, node, event.error_code, message)


def _timeout(node: ServiceTask) -> timedelta | None:
    return parse_duration(node.timeout) if node.timeout is not None else None
