"""`ProcessWorkflow`: one durable Temporal workflow per process instance.

It feeds events to the pure interpreter in `engine` and carries out what each transition
asks: first the database write (an activity), then the durable work — timers, service
actions with their retry policies, child instances. Events reach it as updates, so each
caller learns whether its event was taken; the work it started reports back the same way
internally. Imports nothing but temporalio and engine, so it stays deterministic inside
the workflow sandbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from engine import interpreter
    from engine.commands import (
        CancelChild,
        CancelService,
        CancelTimer,
        RunService,
        StartChild,
        StartTimer,
        Transition,
    )
    from engine.definition import Definition
    from engine.enums import OPEN_INSTANCE_STATUSES, InstanceStatus
    from engine.events import (
        Cancel,
        ChildCompleted,
        ChildFailed,
        CompleteTask,
        Event,
        ServiceCompleted,
        ServiceFailed,
        StartInstance,
        TimerFired,
    )
    from engine.live import live_state
    from engine.state import InstanceState
    from engine.validation import deployed_definition
    from engine.workflow_contract import (
        ACTIVITY_APPLY_TRANSITION,
        ACTIVITY_RESOLVE_DEFINITION,
        ACTIVITY_RUN_ACTION,
        COMPUTING_ACTIONS,
        QUERY_LIVE_STATE,
        UPDATE_COMPLETE_TASK,
        UPDATE_CONTROL,
        UPDATE_STARTED,
        WORKFLOW_NAME,
        CompleteTaskInput,
        ControlInput,
        ProcessInput,
        ProcessResult,
        ResolvedDefinition,
        ResolveDefinitionInput,
        RunActionInput,
        TransitionRecord,
        workflow_id,
    )

# A transition is a short database write: a local activity (no extra round trip to
# the server), retried until the database answers.
_WRITE_TIMEOUT = timedelta(seconds=30)
_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
_ACTION_TIMEOUT = timedelta(minutes=5)
# A worker that dies under an action is noticed by its missing heartbeats within this,
# not at the action's start-to-close timeout; the action is then retried elsewhere.
_ACTION_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# The built-in actions that only compute (`set`, `log`) run as local activities, beside
# the workflow: no round trip to the server, and a dead worker costs the workflow task's
# timeout (10 s) before another worker runs them again.
_LOCAL_TIMEOUT = timedelta(seconds=10)

# Changes to what the workflow does, guarded so that histories recorded before them replay
# as they ran (tests/test_replay.py).
_KEEP_DEFERRED = "keep-deferred-reports"
_ERROR_CODE_OF_THE_ACTION = "error-code-of-the-action"
_WAIT_FOR_CANCELLED_WORK = "wait-for-cancelled-work"
_NOTICE_A_DEAD_WORKER = "notice-a-dead-worker"


@workflow.defn(name=WORKFLOW_NAME)
class ProcessWorkflow:
    @workflow.init
    def __init__(self, input: ProcessInput) -> None:
        self._input = input
        self._definition: Definition = deployed_definition(input.definition_id, input.spec)
        self._state: InstanceState | None = None
        self._step = 0
        # Events are applied one at a time, in the order they arrived.
        self._lock = asyncio.Lock()
        # The durable work under way, by the id the engine gave it, to cancel it.
        self._work: dict[str, asyncio.Task[None]] = {}
        # Work cancelled and still winding down (a child instance cleaning up); a dict
        # rather than a set, so its order is deterministic.
        self._stopping: dict[asyncio.Task[None], None] = {}

    @workflow.run
    async def run(self, input: ProcessInput) -> ProcessResult:
        async with self._lock:
            event = StartInstance(
                variables=input.variables, initiator=input.initiator, at=workflow.now()
            )
            await self._apply(
                interpreter.start(self._definition, input.instance_id, event),
                start=input,
                actor=input.initiator,
                actor_id=input.initiator_id,
            )
        try:
            await workflow.wait_condition(
                lambda: (
                    self._current.status not in OPEN_INSTANCE_STATUSES
                    and workflow.all_handlers_finished()
                )
            )
        except asyncio.CancelledError:
            # Temporal cancellation (a parent's call activity was cancelled, or a client
            # cancelled the workflow): clean up as a cancelled instance, then end.
            await self._feed(Cancel(reason="cancelled", at=workflow.now()), None)
        for work in self._work.values():
            work.cancel()
        # A cancelled child instance cleans up (closes its tasks, cancels its own children)
        # before this workflow ends: ending first would have Temporal terminate it midway
        # (the parent close policy), leaving its rows open.
        winding_down = [*self._stopping, *self._work.values()]
        if winding_down and workflow.patched(_WAIT_FOR_CANCELLED_WORK):
            await asyncio.gather(*winding_down)
        return ProcessResult(status=self._current.status, variables=self._current.variables)

    @workflow.update(name=UPDATE_STARTED)
    async def started(self) -> str:
        """Returns once the first transition is in PostgreSQL, so the caller reads its own
        write: startProcess answers with the instance and its first tasks in place."""
        await workflow.wait_condition(lambda: self._step >= 1)
        return self._current.status.value

    @workflow.update(name=UPDATE_COMPLETE_TASK)
    async def complete_task(self, input: CompleteTaskInput) -> str:
        """An update, not a signal: the caller waits for the transition to be written."""
        return await self._feed(self._completion(input), input.actor_id, actor=input.actor)

    @complete_task.validator
    def _validate_complete_task(self, input: CompleteTaskInput) -> None:
        self._validate(self._completion(input))

    @workflow.update(name=UPDATE_CONTROL)
    async def control(self, input: ControlInput) -> str:
        """Suspend, resume, cancel, set variables, deliver a message, retry an incident.
        An update rather than a signal: a message no token waits for is refused to its
        sender, never lost."""
        return await self._feed(self._control_event(input), input.actor_id)

    @control.validator
    def _validate_control(self, input: ControlInput) -> None:
        self._validate(self._control_event(input))

    @workflow.query(name=QUERY_LIVE_STATE)
    def live_state(self) -> dict[str, Any]:
        return live_state(self._definition, self._state) if self._state else {}

    @property
    def _current(self) -> InstanceState:
        assert self._state is not None, "the instance has not started yet"
        return self._state

    def _completion(self, input: CompleteTaskInput) -> CompleteTask:
        return CompleteTask(
            task_id=input.task_id, variables=input.variables, actor=input.actor, at=workflow.now()
        )

    def _control_event(self, input: ControlInput) -> Event:
        return input.event.event(workflow.now())

    def _validate(self, event: Event) -> None:
        if self._state is None:
            raise ValueError("the instance has not started yet")
        reason = interpreter.rejection(self._state, event)
        if reason is not None:
            raise ValueError(reason)

    async def _feed(self, event: Event, actor_id: str | None, *, actor: str | None = None) -> str:
        async with self._lock:
            # The state may have moved while this event waited for the lock.
            reason = interpreter.rejection(self._current, event)
            if reason is not None:
                raise ApplicationError(reason, type="CONFLICT", non_retryable=True)
            await self._apply(
                interpreter.handle(self._definition, self._current, event),
                actor=actor,
                actor_id=actor_id,
            )
            return self._current.status.value

    async def _apply(
        self,
        transition: Transition,
        *,
        start: ProcessInput | None = None,
        actor: str | None = None,
        actor_id: str | None = None,
    ) -> None:
        """Write the transition, then start and stop the durable work it asks for."""
        if not transition.commands and self._state is not None:
            # Nothing to write: a report on work that no longer matters (the state is
            # unchanged), or one deferred while the instance is suspended or in an
            # incident, which the state keeps for the resume.
            if transition.state != self._state and workflow.patched(_KEEP_DEFERRED):
                self._state = transition.state
            return
        step = self._step + 1
        record = TransitionRecord(
            instance_id=self._input.instance_id,
            step=step,
            at=workflow.now(),
            status=transition.state.status,
            variables=transition.state.variables,
            commands=transition.commands,
            start=start,
            actor=actor,
            actor_id=actor_id,
        )
        await workflow.execute_local_activity(
            ACTIVITY_APPLY_TRANSITION,
            record,
            start_to_close_timeout=_WRITE_TIMEOUT,
            retry_policy=_WRITE_RETRY,
        )
        self._state = transition.state
        self._step = step
        for command in transition.commands:
            match command:
                case StartTimer():
                    self._begin(command.timer_id, self._timer(command))
                case RunService():
                    self._begin(command.job_id, self._service(command))
                case StartChild():
                    self._begin(command.child_id, self._child(command))
                case (
                    CancelTimer(timer_id=work_id)
                    | CancelService(job_id=work_id)
                    | CancelChild(child_id=work_id)
                ):
                    running = self._work.pop(work_id, None)
                    if running is not None:
                        running.cancel()
                        self._stopping[running] = None
                        running.add_done_callback(self._stopped)

    def _stopped(self, work: asyncio.Task[None]) -> None:
        self._stopping.pop(work, None)

    def _begin(self, work_id: str, work: Callable[[], Awaitable[Event | None]]) -> None:
        async def run() -> None:
            try:
                report = await work()
            except asyncio.CancelledError:
                return
            self._work.pop(work_id, None)
            if report is not None:
                await self._feed(report, None)

        self._work[work_id] = asyncio.create_task(run())

    def _timer(self, command: StartTimer) -> Callable[[], Awaitable[Event | None]]:
        async def wait() -> Event:
            delay = (command.fire_at - workflow.now()).total_seconds()
            if delay > 0:
                await workflow.sleep(delay)
            return TimerFired(timer_id=command.timer_id, at=workflow.now())

        return wait

    def _service(self, command: RunService) -> Callable[[], Awaitable[Event | None]]:
        async def run() -> Event:
            retry = command.retry
            input = RunActionInput(
                instance_id=self._input.instance_id,
                job_id=command.job_id,
                node_id=command.node_id,
                action=command.action,
                input=command.input,
            )
            policy = RetryPolicy(
                initial_interval=retry.initial_interval,
                backoff_coefficient=retry.backoff,
                maximum_interval=retry.max_interval,
                maximum_attempts=retry.max_attempts,
                non_retryable_error_types=retry.non_retryable,
            )
            timeout = command.timeout or _ACTION_TIMEOUT
            try:
                if not workflow.patched(_NOTICE_A_DEAD_WORKER):
                    # As recorded histories ran: no heartbeat, so a dead worker cost the
                    # whole start-to-close timeout.
                    result = await workflow.execute_activity(
                        ACTIVITY_RUN_ACTION,
                        input,
                        start_to_close_timeout=timeout,
                        retry_policy=policy,
                        result_type=object,
                    )
                elif command.action in COMPUTING_ACTIONS:
                    result = await workflow.execute_local_activity(
                        ACTIVITY_RUN_ACTION,
                        input,
                        start_to_close_timeout=min(timeout, _LOCAL_TIMEOUT),
                        retry_policy=policy,
                        result_type=object,
                    )
                else:
                    result = await workflow.execute_activity(
                        ACTIVITY_RUN_ACTION,
                        input,
                        start_to_close_timeout=timeout,
                        heartbeat_timeout=_ACTION_HEARTBEAT_TIMEOUT,
                        retry_policy=policy,
                        result_type=object,
                    )
            except ActivityError as exc:
                code, message = _failure_of(exc)
                return ServiceFailed(
                    job_id=command.job_id, error_code=code, message=message, at=workflow.now()
                )
            return ServiceCompleted(job_id=command.job_id, result=result, at=workflow.now())

        return run

    def _child(self, command: StartChild) -> Callable[[], Awaitable[Event | None]]:
        async def run() -> Event:
            try:
                resolved: ResolvedDefinition = await workflow.execute_local_activity(
                    ACTIVITY_RESOLVE_DEFINITION,
                    ResolveDefinitionInput(key=command.key, version=command.version),
                    start_to_close_timeout=_WRITE_TIMEOUT,
                    retry_policy=RetryPolicy(
                        maximum_interval=timedelta(seconds=10),
                        non_retryable_error_types=["NOT_FOUND"],
                    ),
                    result_type=ResolvedDefinition,
                )
                result: ProcessResult = await workflow.execute_child_workflow(
                    WORKFLOW_NAME,
                    ProcessInput(
                        instance_id=command.child_id,
                        definition_id=resolved.definition_id,
                        spec=resolved.spec,
                        variables=command.variables,
                        business_key=self._input.business_key,
                        initiator=self._input.initiator,
                        initiator_id=self._input.initiator_id,
                        parent_instance_id=self._input.instance_id,
                    ),
                    id=workflow_id(command.child_id),
                    result_type=ProcessResult,
                )
            except (ActivityError, ChildWorkflowError) as exc:
                code, message = _failure_of(exc)
                return ChildFailed(
                    child_id=command.child_id, error_code=code, message=message, at=workflow.now()
                )
            if result.status is not InstanceStatus.COMPLETED:
                return ChildFailed(
                    child_id=command.child_id,
                    error_code=result.status.value,
                    message=f"the child instance ended {result.status.value}",
                    at=workflow.now(),
                )
            return ChildCompleted(
                child_id=command.child_id, variables=result.variables, at=workflow.now()
            )

        return run


def _failure_of(exc: BaseException) -> tuple[str | None, str]:
    """`_failure`, or for histories recorded before it, what they were fed."""
    if workflow.patched(_ERROR_CODE_OF_THE_ACTION):
        return _failure(exc)
    # As recorded histories ran: the root cause's type, the Python exception's class name
    # for an action's coded error.
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ApplicationError):
        return cause.type, cause.message
    return None, str(cause)


def _failure(exc: BaseException) -> tuple[str | None, str]:
    """The error code and message of an activity or child failure: those of the first
    ApplicationError under the ActivityError or ChildWorkflowError wrapper. Not the root
    cause: an action raises its coded ApplicationError *from* the Python exception it
    caught, and Temporal carries that one along as an ApplicationError typed after its
    class (`ActionFailed`), which names no error code."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.type, cause.message
        cause = cause.__cause__
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    return None, str(root)
