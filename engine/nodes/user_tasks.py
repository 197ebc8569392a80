"""User tasks: a task in people's inbox, created with its fields evaluated, completed
with the variables of its form."""

import copy
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.commands import CloseTask, CreateTask
from engine.durations import parse_duration
from engine.enums import HistoryEventType, TaskStatus
from engine.events import CompleteTask
from engine.failures import Failure
from engine.node_types import PRIORITY_MAX, PRIORITY_MIN, UserTask
from engine.state import Token

if TYPE_CHECKING:
    from engine.run import Run


def create(run: "Run", token: Token, node: UserTask, local: dict[str, Any] | None = None) -> str:
    """Create the task for a token; `local` is what only this task's expressions see.
    Every field is evaluated before anything is recorded, so a failure leaves no trace."""
    assignee = _user_or_none(run, "assignee", node.assignee, local)
    candidate_users = _names(run, "candidateUsers", node.candidateUsers, local)
    candidate_groups = _names(run, "candidateGroups", node.candidateGroups, local)
    priority = _priority(run, node.priority, local)
    due_at = _due_at(run, node.due, local)
    task_id = run.new_id("task")
    run.state.open_tasks[task_id] = token.id
    if local is not None:
        run.state.task_locals[task_id] = local
    run.history(HistoryEventType.TASK_CREATED, node_id=node.id, task_id=task_id)
    run.emit(
        CreateTask(
            task_id=task_id,
            node_id=node.id,
            name=node.name or node.id,
            assignee=assignee,
            candidate_users=candidate_users,
            candidate_groups=candidate_groups,
            priority=priority,
            due_at=due_at,
            form=copy.deepcopy(node.form),
        )
    )
    return task_id


def complete(run: "Run", token: Token, event: CompleteTask) -> list[Token]:
    """Merge the completion's variables and move the token on."""
    run.state.variables.update(copy.deepcopy(event.variables))
    close(run, token, event)
    return run.leave(token)


def close(run: "Run", token: Token, event: CompleteTask) -> None:
    """Record the task as completed by the event."""
    run.state.open_tasks.pop(event.task_id)
    run.state.task_locals.pop(event.task_id, None)
    run.emit(CloseTask(task_id=event.task_id, status=TaskStatus.COMPLETED, actor=event.actor))
    run.history(
        HistoryEventType.TASK_COMPLETED,
        node_id=token.node_id,
        task_id=event.task_id,
        actor=event.actor,
        data={"variables": copy.deepcopy(event.variables)},
    )


def _user_or_none(
    run: "Run", field: str, value: str | None, local: dict[str, Any] | None
) -> str | None:
    result = run.resolve(field, value, local)
    if result is not None and not isinstance(result, str):
        raise Failure(f"{field} gave {result!r}, not a string")
    return result


def _names(run: "Run", field: str, values: list[str], local: dict[str, Any] | None) -> list[str]:
    """Resolve each entry; an expression may give one name, a list of them, or null."""
    names: list[str] = []
    for value in values:
        result = run.resolve(field, value, local)
        results = result if isinstance(result, list) else [] if result is None else [result]
        if not all(isinstance(name, str) for name in results):
            raise Failure(f"{field} gave {result!r}, not names")
        names += [name for name in results if name not in names]
    return names


def _priority(run: "Run", value: int | str, local: dict[str, Any] | None) -> int:
    result = run.resolve("priority", value, local)
    # bool is an int subclass, but `true` is no priority.
    if not isinstance(result, int) or isinstance(result, bool):
        raise Failure(f"priority gave {result!r}, not an integer")
    # Clamped rather than an incident: the value depends on the instance's data, and a
    # task out of range is still better handled (first or last) than not created.
    # A literal out of range is refused when the definition is deployed.
    return min(max(result, PRIORITY_MIN), PRIORITY_MAX)


def _due_at(run: "Run", value: str | None, local: dict[str, Any] | None) -> datetime | None:
    """A duration counts from now (the event's time); a timestamp is taken as is."""
    result = run.resolve("due", value, local)
    if result is None or isinstance(result, datetime):
        return result
    if isinstance(result, timedelta):
        return run.at + result
    if isinstance(result, str):
        try:
            return run.at + parse_duration(result)
        except ValueError as error:
            raise Failure(f"due: {error}") from None
    raise Failure(f"due gave {result!r}, not a duration or a timestamp")
