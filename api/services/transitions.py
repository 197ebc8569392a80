"""Writing one interpreter transition to PostgreSQL: the instance row, its tasks and its
history, in one transaction. The worker's activity calls this; retries are harmless
because a transition carries its step number and is applied at most once."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.db import SessionMaker
from api.events import Notice
from api.models import PendingCompletion, ProcessInstance, Task, User
from api.services.history import NewEvent, insert_events, task_audience
from engine.enums import InstanceStatus, TaskStatus
from engine.interpreter import AppendHistory, CloseTask, CreateTask, RaiseIncident
from engine.messages import TransitionRecord

FINAL_STATUSES = frozenset(
    {InstanceStatus.COMPLETED, InstanceStatus.CANCELLED, InstanceStatus.TERMINATED}
)


async def apply_transition(sessions: SessionMaker, record: TransitionRecord) -> list[Notice]:
    """Apply `record` once; returns the notices to publish after the commit (none on a replay).

    A few statements per transition, since the worker writes one for every step of every
    instance: the instance row is claimed (inserted or advanced past its step) and its
    history's sequence numbers taken in one statement, a closed task comes back from its
    UPDATE, and the history goes in as one batch."""
    instance_id = uuid.UUID(record.instance_id)
    history = [c for c in record.commands if isinstance(c, AppendHistory)]
    async with sessions() as session, session.begin():
        last_seq = await _claim(session, record, len(history))
        if last_seq is None:
            return []  # applied by an earlier attempt of this activity
        usernames = await _user_ids(session, _usernames(record))
        tasks: dict[uuid.UUID, Task] = {}
        for command in record.commands:
            if isinstance(command, CreateTask):
                created = _task_row(instance_id, command, usernames, record)
                session.add(created)
                tasks[created.id] = created
            elif isinstance(command, CloseTask):
                closed = await _close_task(session, command, record, usernames)
                tasks[closed.id] = closed
        concerned = {uuid.UUID(c.task_id) for c in history if c.task_id}
        tasks |= await _tasks(session, concerned - tasks.keys())
        events = []
        for c in history:
            actor_id = usernames.get(c.actor) if c.actor else None
            task = tasks.get(uuid.UUID(c.task_id)) if c.task_id else None
            events.append(
                NewEvent(
                    type=c.type,
                    at=c.at,
                    node_id=c.node_id,
                    task_id=task.id if task else None,
                    actor_id=actor_id,
                    data=c.data,
                    **(task_audience(task, actor_id) if task else {}),
                )
            )
        return await insert_events(session, instance_id, last_seq - len(events) + 1, events)


async def _claim(session: AsyncSession, record: TransitionRecord, events: int) -> int | None:
    """Create or advance the instance row to this step, taking `events` sequence numbers of
    its history; the instance's last seq after them, or None when the step was applied
    already. The row stays locked until the commit, which serializes the instance's
    writers (see append_events)."""
    values: dict[str, Any] = {
        "step": record.step,
        "status": record.status,
        "variables": record.variables,
        "incident": _incident(record),
        "ended_at": record.at if record.status in FINAL_STATUSES else None,
    }
    if record.start is not None:
        start = record.start
        created = await session.exec(
            insert(ProcessInstance)
            .values(
                id=uuid.UUID(start.instance_id),
                definition_id=uuid.UUID(start.definition_id),
                business_key=start.business_key,
                started_by=uuid.UUID(start.initiator_id) if start.initiator_id else None,
                parent_id=uuid.UUID(start.parent_instance_id) if start.parent_instance_id else None,
                started_at=record.at,
                last_seq=events,
                **values,
            )
            .on_conflict_do_nothing()
            .returning(col(ProcessInstance.last_seq))
        )
        return created.scalar_one_or_none()
    advanced = await session.exec(
        sa.update(ProcessInstance)
        .where(
            col(ProcessInstance.id) == uuid.UUID(record.instance_id),
            col(ProcessInstance.step) < record.step,
        )
        .values(last_seq=ProcessInstance.last_seq + events, **values)
        .returning(col(ProcessInstance.last_seq))
    )
    return advanced.scalar_one_or_none()


async def _tasks(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, Task]:
    if not ids:
        return {}
    rows = await session.exec(select(Task).where(col(Task.id).in_(ids)))
    return {t.id: t for t in rows}


def _incident(record: TransitionRecord) -> str | None:
    messages = [
        f"{c.node_id}: {c.message}" for c in record.commands if isinstance(c, RaiseIncident)
    ]
    return "; ".join(messages) or None


def _usernames(record: TransitionRecord) -> set[str]:
    names: set[str] = set()
    for c in record.commands:
        if isinstance(c, CreateTask):
            names.update(c.candidate_users)
            if c.assignee:
                names.add(c.assignee)
        elif isinstance(c, AppendHistory | CloseTask) and c.actor:
            names.add(c.actor)
    return names


async def _user_ids(session: AsyncSession, usernames: set[str]) -> dict[str, uuid.UUID]:
    """Definitions name people by username; rows point at user ids. Unknown names resolve to
    nobody (the task stays open to its candidate groups) rather than failing the step."""
    if not usernames:
        return {}
    rows = await session.exec(
        select(User.username, User.id).where(col(User.username).in_(usernames))
    )
    return dict(rows.all())


def _task_row(
    instance_id: uuid.UUID, c: CreateTask, users: dict[str, uuid.UUID], record: TransitionRecord
) -> Task:
    assignee_id = users.get(c.assignee) if c.assignee else None
    return Task(
        id=uuid.UUID(c.task_id),
        instance_id=instance_id,
        node_id=c.node_id,
        name=c.name,
        # CLAIMED means held by someone, also when the definition named the assignee.
        status=TaskStatus.CLAIMED if assignee_id else TaskStatus.CREATED,
        assignee_id=assignee_id,
        candidate_users=[users[u] for u in c.candidate_users if u in users],
        candidate_groups=list(c.candidate_groups),
        priority=c.priority,
        due_at=c.due_at,
        form=c.form,
        created_at=record.at,
    )


async def _close_task(
    session: AsyncSession, c: CloseTask, record: TransitionRecord, users: dict[str, uuid.UUID]
) -> Task:
    task_id = uuid.UUID(c.task_id)
    # Who closed this task is the actor the engine names for it, not whoever caused the
    # transition: completing one task of a multi-instance loop may cancel the others,
    # and those were closed by nobody.
    actor_id = None
    if c.actor:
        actor_id = uuid.UUID(record.actor_id) if record.actor_id else users.get(c.actor)
    values: dict[str, Any] = {
        "status": c.status,
        "version": Task.version + 1,
        "completed_at": record.at,
        "completed_by": actor_id,
    }
    if c.status is TaskStatus.COMPLETED:
        # Whoever completes an unassigned task becomes its assignee, as when claiming;
        # cancelling a task hands it to no one.
        values["assignee_id"] = sa.func.coalesce(Task.assignee_id, actor_id)
    # The completion's outbox row goes in the same statement: the task is closed.
    delivered = (
        sa.delete(PendingCompletion)
        .where(col(PendingCompletion.task_id) == task_id)
        .cte("delivered")
    )
    result = await session.exec(
        sa.update(Task)
        .add_cte(delivered)
        .where(col(Task.id) == task_id)
        .values(**values)
        .returning(Task)
        .execution_options(populate_existing=True)
    )
    closed: Task = result.scalars().one()
    return closed
