"""The append-only history of an instance: one ordered log per instance, written by
the workflow's transitions and by the API's own task changes alike."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.db import SessionMaker, reading
from api.events import Notice
from api.grouping import group_by
from api.models import HistoryEvent, ProcessInstance, table_of
from engine.enums import HistoryEventType

_INSERT_EVENTS = insert(table_of(HistoryEvent))

# The mark of a transaction that writes the log (see api/services/event_log.py): a shared
# advisory lock, so writers never wait for each other; nobody takes it exclusively.
LOG_WRITER_LOCK = 0x466C6F77_4C6F6731
_MARK = sa.text(
    "SELECT pg_current_xact_id_if_assigned() IS NOT NULL, pg_advisory_xact_lock_shared(:key)"
).bindparams(key=LOG_WRITER_LOCK)
_MARKED = "flowdesk_log_writer"


def _transaction(connection: AsyncConnection) -> object:
    """The transaction under way on `connection`, as one object for as long as it lasts."""
    assert connection.sync_connection is not None
    return connection.sync_connection.get_transaction()


async def mark_log_writer(connection: AsyncConnection) -> None:
    """Mark this transaction as one that will write the log, before its first write.

    Readers of the log wait only for marked transactions, and that is sound only if the
    mark comes before the transaction has an id (before it writes anything): refused
    otherwise, as insert_events refuses an unmarked transaction."""
    [(had_id, _)] = (await connection.execute(_MARK)).all()
    if had_id:
        raise RuntimeError("a log writer must mark itself before its first write")
    connection.info[_MARKED] = _transaction(connection)


@dataclass(frozen=True)
class NewEvent:
    type: HistoryEventType
    at: datetime
    node_id: str | None = None
    task_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Who a task event concerns, as of this event (see HistoryEvent).
    audience_users: tuple[uuid.UUID, ...] = ()
    audience_groups: tuple[str, ...] = ()


class TaskPeople(Protocol):
    """Who a task concerns: a Task row, or the columns a statement returned of one."""

    @property
    def assignee_id(self) -> uuid.UUID | None: ...
    @property
    def candidate_users(self) -> Sequence[uuid.UUID]: ...
    @property
    def candidate_groups(self) -> Sequence[str]: ...


def task_audience(task: TaskPeople, *also: uuid.UUID | None) -> dict[str, Any]:
    """The people a change to `task` concerns: its assignee and candidates, plus `also`
    (the actor, a previous assignee), as NewEvent keyword arguments."""
    users = {task.assignee_id, *task.candidate_users, *also} - {None}
    return {
        "audience_users": tuple(sorted(u for u in users if u is not None)),
        "audience_groups": tuple(sorted(task.candidate_groups)),
    }


async def append_events(
    session: AsyncSession, instance_id: uuid.UUID, events: list[NewEvent]
) -> list[Notice]:
    """Append events with the instance's next sequence numbers, inside the caller's
    transaction; returns what to publish once it commits.

    Taking the numbers with an UPDATE locks the instance row until the commit, which
    serializes every writer of one instance's log (workflow activity and API alike)."""
    if not events:
        return []
    last = (
        await session.exec(
            sa.update(ProcessInstance)
            .where(col(ProcessInstance.id) == instance_id)
            .values(last_seq=ProcessInstance.last_seq + len(events))
            .returning(col(ProcessInstance.last_seq))
        )
    ).scalar_one()
    connection = await session.connection()
    return await insert_events(connection, instance_id, last - len(events) + 1, events)


async def insert_events(
    connection: AsyncConnection, instance_id: uuid.UUID, first_seq: int, events: list[NewEvent]
) -> list[Notice]:
    """Insert events numbered from `first_seq`, numbers the caller has taken under the
    instance row's lock; one batched statement, compiled once."""
    if not events:
        return []
    if connection.info.get(_MARKED) is not _transaction(connection):
        raise RuntimeError(
            "history events are written by a transaction marked with mark_log_writer"
        )
    rows = [
        {
            "instance_id": instance_id,
            "seq": first_seq + i,
            "type": e.type,
            "at": e.at,
            "node_id": e.node_id,
            "task_id": e.task_id,
            "actor_id": e.actor_id,
            "data": e.data,
            "audience_users": list(e.audience_users),
            "audience_groups": list(e.audience_groups),
        }
        for i, e in enumerate(events)
    ]
    # Core, not the ORM's bulk insert: nothing here needs the rows back as objects, and
    # the ORM's bookkeeping cost more than the statement itself.
    await connection.execute(_INSERT_EVENTS, rows)
    return [
        Notice(
            instance_id=instance_id,
            seq=first_seq + i,
            type=e.type,
            user_ids=e.audience_users,
            group_keys=e.audience_groups,
        )
        for i, e in enumerate(events)
    ]


class HistoryService:
    def __init__(self, sessions: SessionMaker) -> None:
        self._reads = reading(sessions)

    @staticmethod
    def require_reader(principal: Principal) -> None:
        """An instance's trace is for holders of history:read among those who see it."""
        principal.require(Permission.HISTORY_READ)

    async def for_instances(
        self, instance_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[HistoryEvent]]:
        """Every event of each instance in order: one statement whatever the count."""
        async with self._reads() as session:
            rows = await session.exec(
                select(HistoryEvent)
                .where(col(HistoryEvent.instance_id).in_(instance_ids))
                .order_by(col(HistoryEvent.instance_id), col(HistoryEvent.seq))
            )
            return group_by(instance_ids, rows, lambda row: row.instance_id)
