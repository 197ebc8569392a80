"""Stopping what a token waits for, when its node is left early: an interrupting
boundary event, or the instance being cancelled."""

from typing import TYPE_CHECKING

from engine.commands import CancelChild, CancelService, CancelTimer, CloseTask
from engine.enums import HistoryEventType, TaskStatus
from engine.state import Token

if TYPE_CHECKING:
    from engine.run import Run


def cancel_timers(run: "Run", token: Token) -> None:
    """Stop the timers the token holds: those of its task's boundary events."""
    for timer_id, timer in list(run.state.timers.items()):
        if timer.token_id == token.id:
            del run.state.timers[timer_id]
            run.emit(CancelTimer(timer_id=timer_id))
            run.history(
                HistoryEventType.TIMER_CANCELLED,
                node_id=timer.node_id,
                data={"timer_id": timer_id},
            )


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
    for job_id, job in list(run.state.jobs.items()):
        if job.token_id == token.id:
            del run.state.jobs[job_id]
            run.emit(CancelService(job_id=job_id))
            run.history(
                HistoryEventType.SERVICE_CANCELLED, node_id=job.node_id, data={"job_id": job_id}
            )
    for child_id, child in list(run.state.children.items()):
        if child.token_id == token.id:
            del run.state.children[child_id]
            run.emit(CancelChild(child_id=child_id))
            run.history(
                HistoryEventType.CHILD_CANCELLED,
                node_id=child.node_id,
                data={"child_id": child_id},
            )
    run.state.messages.pop(token.id, None)
    cancel_timers(run, token)
