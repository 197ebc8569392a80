"""Writing one interpreter transition to PostgreSQL: the instance row, its tasks and its
history, in one transaction. The worker's activity calls this; retries are harmless
because a transition carries its step number and is applied at most once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from api.db import SessionMaker, engine_of
from api.events import Notice
from api.metrics import INCIDENTS, INSTANCE_DURATION, INSTANCES_ENDED, INSTANCES_STARTED
from api.models import (
    PendingCompletion,
    ProcessDefinition,
    ProcessInstance,
    Task,
    User,
    table_of,
)
from api.services.history import (
    NewEvent,
    TaskPeople,
    insert_events,
    mark_log_writer,
    task_audience,
)
from engine.enums import InstanceStatus, TaskStatus
from engine.interpreter import AppendHistory, CloseTask, CreateTask, RaiseIncident
from engine.workflow_contract import TransitionRecord

# The worker's statements are Core, on the tables: the ORM's unit of work and bulk
# bookkeeping cost more CPU than the statements themselves, and nothing here needs objects.
_INSTANCES = table_of(ProcessInstance)
_TASKS = table_of(Task)
_USERS = table_of(User)
_OUTBOX = table_of(PendingCompletion)
_DEFINITIONS = table_of(ProcessDefinition)
_PEOPLE = (_TASKS.c.id, _TASKS.c.assignee_id, _TASKS.c.candidate_users, _TASKS.c.candidate_groups)

FINAL_STATUSES = frozenset(
    {InstanceStatus.COMPLETED, InstanceStatus.CANCELLED, InstanceStatus.TERMINATED}
)


@dataclass(frozen=True)
class _Claimed:
    """The instance row once claimed for a step: its last seq and, for the steps the
    metrics count (an end, an incident), its definition's key and its start."""

    last_seq: int
    key: str | None = None
    started_at: datetime | None = None


async def apply_transition(sessions: SessionMaker, record: TransitionRecord) -> list[Notice]:
    """Apply `record` once; returns the notices to publish after the commit (none on a replay).

    The worker writes one of these for every step of every instance, so it is a few
    prebuilt Core statements on one connection: the instance row is claimed (inserted, or
    advanced past its step) with its history's sequence numbers in one statement, a closed
    task's people come back from its UPDATE, new tasks and the history go in as batches."""
    instance_id = uuid.UUID(record.instance_id)
    history = [c for c in record.commands if isinstance(c, AppendHistory)]
    async with engine_of(sessions).begin() as connection:
        if history:
            await mark_log_writer(connection)
        claimed = await _claim(connection, record, len(history))
        if claimed is None:
            return []  # applied by an earlier attempt of this activity
        usernames = await _user_ids(connection, record)
        created = [
            _task_row(instance_id, c, usernames, record)
            for c in record.commands
            if isinstance(c, CreateTask)
        ]
        if created:
            await connection.execute(_INSERT_TASKS, [t.model_dump() for t in created])
        tasks: dict[uuid.UUID, TaskPeople] = {t.id: t for t in created}
        for command in record.commands:
            if isinstance(command, CloseTask):
                closed_id, people = await _close_task(connection, command, record, usernames)
                tasks[closed_id] = people
        concerned = {uuid.UUID(c.task_id) for c in history if c.task_id}
        tasks |= await _people_of(connection, concerned - tasks.keys())
        events = []
        for c in history:
            actor_id = usernames.get(c.actor) if c.actor else None
            task_id = uuid.UUID(c.task_id) if c.task_id else None
            task = tasks.get(task_id) if task_id else None
            events.append(
                NewEvent(
                    type=c.type,
                    at=c.at,
                    node_id=c.node_id,
                    task_id=task_id if task else None,
                    actor_id=actor_id,
                    data=c.data,
                    **(task_audience(task, actor_id) if task else {}),
                )
            )
        first_seq = claimed.last_seq - len(events) + 1
        notices = await insert_events(connection, instance_id, first_seq, events)
    _count(record, claimed)  # once committed: a failed attempt counts nothing
    return notices


def _counted(record: TransitionRecord) -> bool:
    """Whether the metrics count this step beyond its start: it ends the instance or
    raises an incident (the workflow ends after a final status, so an end counts once)."""
    return record.status in FINAL_STATUSES or any(
        isinstance(c, RaiseIncident) for c in record.commands
    )


def _count(record: TransitionRecord, claimed: _Claimed) -> None:
    key = claimed.key
    if key is None:
        return  # an ordinary step: nothing to count
    if record.start is not None:
        INSTANCES_STARTED.labels(key).inc()
    if record.status in FINAL_STATUSES:
        status = record.status.value
        INSTANCES_ENDED.labels(key, status).inc()
        if claimed.started_at is not None:
            seconds = (record.at - claimed.started_at).total_seconds()
            INSTANCE_DURATION.labels(key, status).observe(seconds)
    incidents = sum(isinstance(c, RaiseIncident) for c in record.commands)
    if incidents:
        INCIDENTS.labels(key).inc(incidents)


# Built once: executing a prebuilt statement with parameters skips building and hashing
# it again for every transition. Parameters named after a column set that column.
_CREATE_INSTANCE = insert(_INSTANCES).on_conflict_do_nothing().returning(_INSTANCES.c.last_seq)
_ADVANCE_INSTANCE = (
    sa.update(_INSTANCES)
    .where(
        _INSTANCES.c.id == sa.bindparam("claimed_id"),
        _INSTANCES.c.step < sa.bindparam("claimed_step"),
    )
    .values(last_seq=_INSTANCES.c.last_seq + sa.bindparam("events"))
    .returning(_INSTANCES.c.last_seq)
)
# The same for a step the metrics count: the key comes back with the row (a primary-key
# lookup in the same statement), where every other step returns its last seq alone.
_ADVANCE_COUNTED_INSTANCE = _ADVANCE_INSTANCE.returning(
    sa.select(_DEFINITIONS.c.key)
    .where(_DEFINITIONS.c.id == _INSTANCES.c.definition_id)
    .correlate(_INSTANCES)
    .scalar_subquery()
    .label("key"),
    _INSTANCES.c.started_at,
)
_INSERT_TASKS = insert(_TASKS)
_PEOPLE_OF = sa.select(*_PEOPLE).where(_TASKS.c.id.in_(sa.bindparam("ids", expanding=True)))
_USER_IDS = sa.select(_USERS.c.username, _USERS.c.id).where(
    _USERS.c.username.in_(sa.bindparam("usernames", expanding=True))
)


def _close_statement(*, completed: bool) -> sa.Update:
    closing: sa.BindParameter[uuid.UUID] = sa.bindparam("closing_id")
    # The completion's outbox row goes in the same statement: the task is closed.
    delivered = sa.delete(_OUTBOX).where(_OUTBOX.c.task_id == closing).cte("delivered")
    values: dict[str, Any] = {"version": _TASKS.c.version + 1}
    if completed:
        # Whoever completes an unassigned task becomes its assignee, as when claiming;
        # cancelling a task hands it to no one.
        values["assignee_id"] = sa.func.coalesce(_TASKS.c.assignee_id, sa.bindparam("completer"))
    return (
        sa.update(_TASKS)
        .add_cte(delivered)
        .where(_TASKS.c.id == closing)
        .values(**values)
        .returning(*_PEOPLE)
    )


_COMPLETE_TASK = _close_statement(completed=True)
_CANCEL_TASK = _close_statement(completed=False)


async def _claim(
    connection: AsyncConnection, record: TransitionRecord, events: int
) -> _Claimed | None:
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
        created = await connection.execute(
            _CREATE_INSTANCE,
            {
                "id": uuid.UUID(start.instance_id),
                "definition_id": uuid.UUID(start.definition_id),
                "business_key": start.business_key,
                "started_by": uuid.UUID(start.initiator_id) if start.initiator_id else None,
                "request_id": start.request_id,
                "parent_id": uuid.UUID(start.parent_instance_id)
                if start.parent_instance_id
                else None,
                "started_at": record.at,
                "last_seq": events,
                **values,
            },
        )
        seq: int | None = created.scalar_one_or_none()
        if seq is None:
            return None
        return _Claimed(seq, key=start.spec["key"], started_at=record.at)
    counted = _counted(record)
    advanced = await connection.execute(
        _ADVANCE_COUNTED_INSTANCE if counted else _ADVANCE_INSTANCE,
        {
            "claimed_id": uuid.UUID(record.instance_id),
            "claimed_step": record.step,
            "events": events,
            **values,
        },
    )
    row = advanced.one_or_none()
    if row is None:
        return None
    if counted:
        return _Claimed(row.last_seq, key=row.key, started_at=row.started_at)
    return _Claimed(row.last_seq)


async def _people_of(
    connection: AsyncConnection, ids: set[uuid.UUID]
) -> dict[uuid.UUID, TaskPeople]:
    if not ids:
        return {}
    rows = await connection.execute(_PEOPLE_OF, {"ids": list(ids)})
    return {row.id: row for row in rows}


def _incident(record: TransitionRecord) -> str | None:
    if record.status in FINAL_STATUSES:
        return None  # a terminate end may drop, in the same step, an incident just raised
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


async def _user_ids(connection: AsyncConnection, record: TransitionRecord) -> dict[str, uuid.UUID]:
    """Definitions name people by username; rows point at user ids. Unknown names resolve to
    nobody (the task stays open to its candidate groups) rather than failing the step.
    The actor comes with their id: a completion needs no lookup."""
    known = {record.actor: uuid.UUID(record.actor_id)} if record.actor and record.actor_id else {}
    wanted = _usernames(record) - known.keys()
    if not wanted:
        return known
    rows = await connection.execute(_USER_IDS, {"usernames": list(wanted)})
    return known | {username: user_id for username, user_id in rows}


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
    connection: AsyncConnection,
    c: CloseTask,
    record: TransitionRecord,
    users: dict[str, uuid.UUID],
) -> tuple[uuid.UUID, TaskPeople]:
    task_id = uuid.UUID(c.task_id)
    # Who closed this task is the actor the engine names for it, not whoever caused the
    # transition: completing one task of a multi-instance loop may cancel the others,
    # and those were closed by nobody.
    actor_id = None
    if c.actor:
        actor_id = uuid.UUID(record.actor_id) if record.actor_id else users.get(c.actor)
    completed = c.status is TaskStatus.COMPLETED
    closed = await connection.execute(
        _COMPLETE_TASK if completed else _CANCEL_TASK,
        {
            "closing_id": task_id,
            "status": c.status,
            "completed_at": record.at,
            "completed_by": actor_id,
            **({"completer": actor_id} if completed else {}),
        },
    )
    row = closed.one()
    return row.id, row
