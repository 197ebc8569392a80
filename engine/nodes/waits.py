"""Stopping what a token waits for, when its node is left early: an interrupting
boundary event, or the instance being cancelled."""

from typing import TYPE_CHECKING, Literal, TypeVar

from engine.commands import CancelChild, CancelService, CancelTimer, CloseTask
from engine.enums import HistoryEventType, TaskStatus
from engine.state import TimerWait, Token, Wait

if TYPE_CHECKING:
    from engine.run import Run

W = TypeVar("W", Wait, TimerWait)


def cancel_timers(run: "Run", token: Token) -> None:
    """Stop the timers the token holds: those of its task's boundary events."""
    _stop(run, token, run.state.timers, "timer_id", CancelTimer, HistoryEventType.TIMER_CANCELLED)


def _stop(
    run: "Run",
    token: Token,
    waits: dict[str, W],
    key: Literal["timer_id", "job_id", "child_id"],
    command: type[CancelTimer | CancelService | CancelChild],
    history: HistoryEventType,
) -> None:
    """Forget the waits of `waits` the token holds and cancel their work; `key` names the
    work's id in the command and in the history's data alike."""
    for work_id, wait in list(waits.items()):
        if wait.token_id == token.id:
            del waits[work_id]
            run.emit(command(**{key: work_id}))
            run.history(history, node_id=wait.node_id, data={key: work_id})


def cancel_task(run: "Run", task_id: str, actor: str | None = None) -> None:
    token = run.token(run.state.open_tasks.pop(task_id))
    run.state.task_locals.pop(task_id, None)
    run.emit(CloseTask(task_id=task_id, status=TaskStatus.CANCELLED, actor=actor))
    run.history(
        HistoryEventType.TASK_CANCELLED, node_id=token.node_id, task_id=task_id, actor=actor
    )


def cancel_waits(run: "Run", token: Token, actor: str | None = None) -> None:
    """Stop everything the token waits for at its node: tasks, a service job, a child
    instance, a message, timers."""
    for task_id, holder in list(run.state.open_tasks.items()):
        if holder == token.id:
            cancel_task(run, task_id, actor)
    run.state.loops.pop(token.id, None)
    _stop(run, token, run.state.jobs, "job_id", CancelService, HistoryEventType.SERVICE_CANCELLED)
    _stop(run, token, run.state.children, "child_id", CancelChild, HistoryEventType.CHILD_CANCELLED)
    run.state.messages.pop(token.id, None)
    cancel_timers(run, token)
