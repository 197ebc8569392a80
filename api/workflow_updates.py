"""Sending an update to an instance's workflow, and what its failures mean to the domain.

One mapping for every caller (completions, the relay that re-sends them, instance
control): the instance refused the event, the instance is gone, or Temporal gave no
answer in time — and only the last leaves the outcome open."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from api.errors import BadUserInput, Conflict, FlowdeskError, Unanswered


async def send_update(
    handle: WorkflowHandle[Any, Any],
    update: str,
    arg: Any,
    *,
    id: str | None = None,
    deadline: float,
) -> str:
    """Run `update` on the workflow and return its result (the instance's status).

    Raises the domain error of a refusal or of an ended workflow, and `Unanswered` when
    no answer came within `deadline` seconds: Temporal is away (the client would retry
    for up to a minute), or no worker runs to take the update (the server would hold it
    until one does)."""
    try:
        # The deadline covers the client's own retries and the describe below; it is
        # also the RPC's, so that the server stops waiting when the caller does.
        async with asyncio.timeout(deadline):
            try:
                result: str = await handle.execute_update(
                    update, arg, id=id, result_type=str, rpc_timeout=timedelta(seconds=deadline)
                )
                return result
            except (WorkflowUpdateFailedError, RPCError) as exc:
                error = await update_failure(handle, exc)
                if error is None:
                    raise Unanswered(_UNANSWERED) from exc
                raise error from exc
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
        raise Unanswered(_UNANSWERED) from exc


_UNANSWERED = "the instance's workflow did not answer in time"


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


async def workflow_exists(handle: WorkflowHandle[Any, Any], *, deadline: float) -> bool | None:
    """Whether Temporal holds the workflow, or None when it does not say within
    `deadline` seconds."""
    try:
        async with asyncio.timeout(deadline):
            await handle.describe(rpc_timeout=timedelta(seconds=deadline))
    except RPCError as exc:
        return False if exc.status == RPCStatusCode.NOT_FOUND else None
    except TimeoutError:
        return None
    return True
