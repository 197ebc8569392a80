"""Sending an update to an instance's workflow, and what its failures mean to the domain.

One mapping for every caller (completions, the relay that re-sends them, instance
control): the instance refused the event, the instance is gone, or Temporal gave no
answer — and only the last leaves the outcome open."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import BadUserInput, Conflict, FlowdeskError


async def send_update(
    handle: WorkflowHandle[Any, Any], update: str, arg: Any, *, id: str | None = None
) -> str:
    """Run `update` on the workflow and return its result (the instance's status).

    Raises the domain error of a refusal or of an ended workflow; any other failure
    (Temporal away) propagates as it came."""
    try:
        result: str = await handle.execute_update(update, arg, id=id, result_type=str)
    except (WorkflowUpdateFailedError, RPCError) as exc:
        error = await update_failure(handle, exc)
        if error is None:
            raise
        raise error from exc
    return result


async def update_failure(
    handle: WorkflowHandle[Any, Any], exc: WorkflowUpdateFailedError | RPCError
) -> FlowdeskError | None:
    """The domain error an update's failure stands for, or None when it stands for none
    (Temporal did not answer): then the update may still land.

    The workflow refuses with an ApplicationError whose type is the error code (its
    validator with a plain ValueError: a conflict with the instance's state). An RPC
    error may hide a workflow that ended before or while it took the update, which
    only describing it tells."""
    if isinstance(exc, WorkflowUpdateFailedError):
        message = str(getattr(exc.cause, "message", exc.cause))
        if getattr(exc.cause, "type", None) == BadUserInput.code:
            return BadUserInput(message)
        return Conflict(message)
    if exc.status == RPCStatusCode.NOT_FOUND or await _closed(handle):
        return Conflict("the instance's workflow has ended")
    return None


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        description = await handle.describe()
    except RPCError as exc:
        return exc.status == RPCStatusCode.NOT_FOUND
    return description.status != WorkflowExecutionStatus.RUNNING
