"""`ProcessWorkflow`: one durable Temporal workflow per process instance.

It feeds events to the pure interpreter in `engine` and hands each transition to an
activity that writes it to PostgreSQL. Imports nothing but temporalio and engine, so
it stays deterministic inside the workflow sandbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine import interpreter
    from engine.definition import Definition
    from engine.enums import InstanceStatus
    from engine.messages import (
        QUERY_LIVE_STATE,
        UPDATE_COMPLETE_TASK,
        UPDATE_STARTED,
        WORKFLOW_NAME,
        CompleteTaskInput,
        ProcessInput,
        TransitionRecord,
    )
    from engine.validation import parse_definition

APPLY_TRANSITION = "apply_transition"
PUBLISH_NOTICES = "publish_notices"

# A transition is a short database write: a local activity (no extra round trip to
# the server), retried until the database answers.
_WRITE_TIMEOUT = timedelta(seconds=30)
_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
_OPEN = frozenset({InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.INCIDENT})


@workflow.defn(name=WORKFLOW_NAME)
class ProcessWorkflow:
    @workflow.init
    def __init__(self, input: ProcessInput) -> None:
        self._input = input
        self._definition: Definition = parse_definition(input.spec)
        self._state: interpreter.InstanceState | None = None
        self._step = 0
        # Transitions are applied one at a time, in the order their events arrived.
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: ProcessInput) -> str:
        async with self._lock:
            event = interpreter.StartInstance(
                variables=input.variables, initiator=input.initiator, at=workflow.now()
            )
            await self._apply(
                interpreter.start(self._definition, input.instance_id, event),
                start=input,
                actor_id=input.initiator_id,
            )
        await workflow.wait_condition(
            lambda: self._current.status not in _OPEN and workflow.all_handlers_finished()
        )
        return self._current.status.value

    @workflow.update(name=UPDATE_STARTED)
    async def started(self) -> str:
        """Returns once the first transition is in PostgreSQL, so the caller reads its own
        write: startProcess answers with the instance and its first tasks in place."""
        await workflow.wait_condition(lambda: self._step >= 1)
        return self._current.status.value

    @workflow.update(name=UPDATE_COMPLETE_TASK)
    async def complete_task(self, input: CompleteTaskInput) -> str:
        """An update, not a signal: the caller waits for the transition to be written."""
        async with self._lock:
            reason = self._rejection(input)
            if reason is not None:
                # The state may have moved while this update waited for the lock.
                raise ApplicationError(reason, type="CONFLICT", non_retryable=True)
            event = interpreter.CompleteTask(
                task_id=input.task_id,
                variables=input.variables,
                actor=input.actor,
                at=workflow.now(),
            )
            await self._apply(
                interpreter.complete_task(self._definition, self._current, event),
                actor_id=input.actor_id,
            )
            return self._current.status.value

    @complete_task.validator
    def _validate_complete_task(self, input: CompleteTaskInput) -> None:
        reason = self._rejection(input)
        if reason is not None:
            raise ValueError(reason)

    @workflow.query(name=QUERY_LIVE_STATE)
    def live_state(self) -> dict[str, object]:
        return self._current.model_dump(mode="json") if self._state else {}

    @property
    def _current(self) -> interpreter.InstanceState:
        assert self._state is not None, "the instance has not started yet"
        return self._state

    def _rejection(self, input: CompleteTaskInput) -> str | None:
        if self._state is None:
            return "the instance has not started yet"
        if self._state.status != InstanceStatus.RUNNING:
            return f"the instance is {self._state.status.value.lower()}"
        return interpreter.can_complete(self._state, input.task_id)

    async def _apply(
        self,
        transition: interpreter.Transition,
        *,
        start: ProcessInput | None = None,
        actor_id: str | None = None,
    ) -> None:
        step = self._step + 1
        record = TransitionRecord(
            instance_id=self._input.instance_id,
            step=step,
            at=workflow.now(),
            status=transition.state.status,
            variables=transition.state.variables,
            commands=transition.commands,
            start=start,
            actor_id=actor_id,
        )
        await workflow.execute_local_activity(
            APPLY_TRANSITION,
            record,
            start_to_close_timeout=_WRITE_TIMEOUT,
            retry_policy=_WRITE_RETRY,
        )
        self._state = transition.state
        self._step = step
