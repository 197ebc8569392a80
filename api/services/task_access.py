"""Who may see and work a task: one set of rules for the services and the SQL filters."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from api.auth.principal import Principal
from api.models import Task, overlaps, task_is_open


def is_candidate(principal: Principal, task: Task) -> bool:
    return principal.id in task.candidate_users or not principal.groups.isdisjoint(
        task.candidate_groups
    )


def is_involved(principal: Principal, task: Task) -> bool:
    """Holds it, held it, handed it on, or may claim it."""
    return principal.id in (task.assignee_id, task.owner_id, task.completed_by) or is_candidate(
        principal, task
    )


def may_see(principal: Principal, task: Task) -> bool:
    return principal.is_admin or is_involved(principal, task)


def may_work(principal: Principal, task: Task) -> bool:
    """Complete it, or change its priority and dates: the assignee, or a candidate (or an
    admin) while nobody holds it."""
    if task.assignee_id is not None:
        return task.assignee_id == principal.id
    return is_candidate(principal, task) or principal.is_admin


def candidate_sql(principal: Principal) -> sa.ColumnElement[bool]:
    return sa.or_(
        col(Task.candidate_users).contains([principal.id]),
        overlaps(Task.candidate_groups, principal.groups),
    )


def visible_sql(principal: Principal) -> sa.ColumnElement[bool]:
    """`may_see` as SQL."""
    if principal.is_admin:
        return sa.true()
    return sa.or_(
        col(Task.assignee_id) == principal.id,
        col(Task.owner_id) == principal.id,
        col(Task.completed_by) == principal.id,
        candidate_sql(principal),
    )


def inbox_sql(principal: Principal) -> sa.ColumnElement[bool]:
    """Open tasks assigned to the caller, or unassigned with the caller as a candidate.

    Each branch matches one partial index (see the Task model)."""
    return sa.and_(
        task_is_open(),
        sa.or_(
            col(Task.assignee_id) == principal.id,
            sa.and_(col(Task.assignee_id).is_(None), candidate_sql(principal)),
        ),
    )
