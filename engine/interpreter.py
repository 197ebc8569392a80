"""The interpreter: (definition, state, event) -> Transition(new state, commands).

Pure and deterministic, because it runs inside the Temporal workflow sandbox:
the event brings the time, and new ids are derived from the instance id and a
counter kept in the state. The caller carries out the commands (the read
model, the inbox, history, timers, service actions, child instances) and keeps
the new state for the next event.

Execution is token based: a token sits on the node it has entered. Each event
moves tokens on until every one waits (at a task, a timer, a join) or is
consumed (at an end event). What each node does lives in `engine.nodes`.

How events meet an instance that cannot take them:

- `rejection` gives the reason an event is refused, and `handle` raises
  InvalidEvent with it, changing nothing: a task completion or a message that no
  token waits for, anything but SetVariables and Cancel on a suspended instance,
  anything at all on a closed (completed, cancelled, terminated) one.
- Reports on work the instance started (TimerFired, ServiceCompleted,
  ServiceFailed, ChildCompleted, ChildFailed) are never refused, as they come from
  the workflow itself. One about a timer, job or child that is not running (never
  started, already cancelled because its node was left, or the instance closed) is
  ignored: the transition has no commands and the state is unchanged. While the
  instance is suspended or in an incident they are deferred, and applied in order
  (as of that moment) once it is running again.
"""

import copy
from typing import assert_never
from uuid import UUID

from engine import lifecycle
from engine.commands import (
    AppendHistory,
    CancelChild,
    CancelService,
    CancelTimer,
    CloseTask,
    Command,
    CreateTask,
    RaiseIncident,
    RunService,
    StartChild,
    StartTimer,
    Transition,
)
from engine.definition import Definition
from engine.enums import OPEN_INSTANCE_STATUSES, HistoryEventType, InstanceStatus
from engine.events import (
    DEFERRABLE,
    Cancel,
    ChildCompleted,
    ChildFailed,
    CompleteTask,
    Event,
    MessageReceived,
    Resume,
    RetryIncident,
    ServiceCompleted,
    ServiceFailed,
    SetVariables,
    StartInstance,
    Suspend,
    TimerFired,
)
from engine.live import live_state
from engine.nodes import calls, receive_tasks, services, timers
from engine.nodes import complete_task as complete_a_task
from engine.retries import RetrySpec
from engine.run import MAX_STEPS, Run
from engine.state import InstanceState, Token

__all__ = [
    "MAX_STEPS",
    "AppendHistory",
    "Cancel",
    "CancelChild",
    "CancelService",
    "CancelTimer",
    "ChildCompleted",
    "ChildFailed",
    "CloseTask",
    "Command",
    "CompleteTask",
    "CreateTask",
    "Event",
    "InstanceState",
    "InvalidEvent",
    "MessageReceived",
    "RaiseIncident",
    "Resume",
    "RetryIncident",
    "RetrySpec",
    "RunService",
    "ServiceCompleted",
    "ServiceFailed",
    "SetVariables",
    "StartChild",
    "StartInstance",
    "StartTimer",
    "Suspend",
    "TimerFired",
    "Transition",
    "can_complete",
    "complete_task",
    "handle",
    "live_state",
    "rejection",
    "start",
]


class InvalidEvent(Exception):
    """The event does not apply to the instance as it is; nothing was changed."""


def start(definition: Definition, instance_id: str, event: StartInstance) -> Transition:
    """Start an instance: a token on the start event, run until it waits or ends."""
    try:
        UUID(instance_id)
    except ValueError:
        raise InvalidEvent(f"instance id {instance_id!r} is not a UUID") from None
    state = InstanceState(
        instance_id=instance_id,
        status=InstanceStatus.RUNNING,
        variables=copy.deepcopy(event.variables),
        tokens=[],
        open_tasks={},
        initiator=event.initiator,
    )
    run = Run(definition, state, event.at)
    run.history(
        HistoryEventType.INSTANCE_STARTED,
        actor=event.initiator,
        data={"variables": copy.deepcopy(event.variables), "initiator": event.initiator},
    )
    token = run.spawn(definition.start_node.id)
    run.history(HistoryEventType.NODE_ENTERED, node_id=token.node_id)
    run.advance([token])
    return run.transition()


def handle(definition: Definition, state: InstanceState, event: Event) -> Transition:
    """Apply any event after the start; the input state is left untouched.

    Raises InvalidEvent when `rejection` gives a reason (see the module docstring for
    which events are refused, ignored or deferred).
    """
    reason = rejection(state, event)
    if reason is not None:
        raise InvalidEvent(reason)
    run = Run(definition, state.model_copy(deep=True), event.at)
    if isinstance(event, DEFERRABLE):
        if not _running_work(run.state, event):
            return run.transition()
        if run.state.status is not InstanceStatus.RUNNING:
            run.state.deferred.append(event)
            return run.transition()
    run.advance(_apply(run, event))
    while run.state.status is InstanceStatus.RUNNING and run.state.deferred:
        deferred = run.state.deferred.pop(0)
        if _running_work(run.state, deferred):
            run.advance(_apply(run, deferred))
    return run.transition()


def complete_task(definition: Definition, state: InstanceState, event: CompleteTask) -> Transition:
    """Complete a task: merge its variables (or collect them, for a multi-instance
    task) and move its token on."""
    return handle(definition, state, event)


def can_complete(state: InstanceState, task_id: str) -> str | None:
    """Why the task cannot be completed now, or None if it can."""
    if state.status is not InstanceStatus.RUNNING:
        return f"instance is {state.status}, not RUNNING"
    if task_id not in state.open_tasks:
        return f"task {task_id!r} is not open in this instance"
    return None


def rejection(state: InstanceState, event: Event) -> str | None:
    """Why the instance refuses the event now, or None if `handle` will take it (which
    for reports on work may mean ignoring or deferring it)."""
    match event:
        case CompleteTask():
            return can_complete(state, event.task_id)
        case MessageReceived():
            if state.status is not InstanceStatus.RUNNING:
                return f"instance is {state.status}, not RUNNING"
            if receive_tasks.receiver(state, event.name) is None:
                awaited = sorted(set(state.messages.values()))
                waits = f"it waits for {', '.join(map(repr, awaited))}" if awaited else "none"
                return f"no token waits for message {event.name!r} ({waits})"
            return None
        case RetryIncident():
            if state.status is not InstanceStatus.INCIDENT:
                return f"instance is {state.status}, not INCIDENT: there is nothing to retry"
            return None
        case Suspend():
            if state.status not in (InstanceStatus.RUNNING, InstanceStatus.INCIDENT):
                return (
                    f"instance is {state.status}; only a RUNNING or INCIDENT one can be suspended"
                )
            return None
        case Resume():
            if state.status is not InstanceStatus.SUSPENDED:
                return f"instance is {state.status}, not SUSPENDED"
            return None
        case Cancel() | SetVariables():
            if state.status not in OPEN_INSTANCE_STATUSES:
                return f"instance is {state.status}, it has ended"
            return None
        case TimerFired() | ServiceCompleted() | ServiceFailed() | ChildCompleted() | ChildFailed():
            return None
        case _:
            assert_never(event)


def _running_work(
    state: InstanceState,
    event: TimerFired | ServiceCompleted | ServiceFailed | ChildCompleted | ChildFailed,
) -> bool:
    """Whether the report is about a timer, job or child the instance still waits for."""
    if state.status not in OPEN_INSTANCE_STATUSES:
        return False
    match event:
        case TimerFired():
            return event.timer_id in state.timers
        case ServiceCompleted() | ServiceFailed():
            return event.job_id in state.jobs
        case ChildCompleted() | ChildFailed():
            return event.child_id in state.children
        case _:
            assert_never(event)


def _apply(run: Run, event: Event) -> list[Token]:
    """Carry out an accepted event; returns the tokens to move on."""
    match event:
        case CompleteTask():
            return complete_a_task(run, event)
        case TimerFired():
            return timers.fired(run, event)
        case ServiceCompleted():
            return services.completed(run, event)
        case ServiceFailed():
            return services.failed(run, event)
        case ChildCompleted():
            return calls.completed(run, event)
        case ChildFailed():
            return calls.failed(run, event)
        case MessageReceived():
            return receive_tasks.receive(run, event)
        case RetryIncident():
            return lifecycle.retry_incident(run, event)
        case Suspend():
            lifecycle.suspend(run, event)
        case Resume():
            lifecycle.resume(run, event)
        case Cancel():
            lifecycle.cancel(run, event)
        case SetVariables():
            lifecycle.set_variables(run, event)
        case _:
            assert_never(event)
    return []
