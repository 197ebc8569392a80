"""Reading the history log without loss: the statements every live subscription is
served from (api/live shares them between subscribers).

Task events are ordered by (tx, id): the writing transaction's id, then the row id. A
reader only takes rows of transactions older than the oldest one still running (the
snapshot's xmin); any transaction that commits later has a larger tx, so it can never
add a row behind the reader's cursor. One instance's events are ordered by their seq,
which is handed out under the instance's row lock, so they commit in seq order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from api.auth.principal import Principal
from api.cursors import decode_cursor, encode_cursor
from api.db import SessionMaker, reading
from api.errors import BadUserInput
from api.events import TASK_EVENT_TYPES
from api.models import HistoryEvent, Task, overlaps

# Rows per statement: bounds the memory of one read; a full page is read on at once.
PAGE = 500

_XMIN = sa.text("(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint")


@dataclass(frozen=True, order=True)
class LogPosition:
    tx: int
    id: int

    def encode(self) -> str:
        return encode_cursor(self.tx, self.id)

    @classmethod
    def decode(cls, cursor: str) -> LogPosition:
        tx, id_ = decode_cursor(cursor, 2, field="since")
        if not (isinstance(tx, int) and isinstance(id_, int)):
            raise BadUserInput("invalid cursor", field="since")
        return cls(tx, id_)

    @classmethod
    def of(cls, event: HistoryEvent) -> LogPosition:
        assert event.tx is not None and event.id is not None
        return cls(event.tx, event.id)


# A task event with its task as read in the same statement.
TaskEventRow = tuple[HistoryEvent, Task]


def _after(position: LogPosition) -> sa.ColumnElement[bool]:
    return sa.tuple_(col(HistoryEvent.tx), col(HistoryEvent.id)) > sa.tuple_(
        position.tx, position.id
    )


def _task_events() -> Select[HistoryEvent, Task, bool]:
    return (
        select(HistoryEvent, Task, col(HistoryEvent.tx) >= _XMIN)
        .join(Task, col(Task.id) == col(HistoryEvent.task_id))
        .where(col(HistoryEvent.type).in_(TASK_EVENT_TYPES))
        .order_by(col(HistoryEvent.tx), col(HistoryEvent.id))
        .limit(PAGE)
    )


class EventLog:
    def __init__(self, sessions: SessionMaker) -> None:
        # One statement per read, outside a transaction: no BEGIN/ROLLBACK round trips.
        self._reads = reading(sessions)

    async def head(self) -> LogPosition:
        """Where a reader that wants only what comes next starts: nothing committed by a
        transaction still running is behind it."""
        async with self._reads() as session:
            xmin = (await session.exec(select(_XMIN))).one()
        return LogPosition(int(xmin), 0)

    async def settled_task_events(self, after: LogPosition) -> tuple[list[TaskEventRow], bool]:
        """Everyone's task events after `after` that no running transaction can still
        precede (up to PAGE), with their tasks; and whether newer rows are held back."""
        async with self._reads() as session:
            result = (await session.exec(_task_events().where(_after(after)))).all()
        settled = [(event, task) for event, task, held in result if not held]
        return settled, len(settled) < len(result)

    async def task_events_of(
        self, principal: Principal, after: LogPosition, upto: LogPosition
    ) -> list[TaskEventRow]:
        """The task events concerning `principal` in (after, upto] (up to PAGE). `upto` is
        a position a reader has reached, so every row before it is settled."""
        audience = sa.or_(
            col(HistoryEvent.audience_users).contains([principal.id]),
            overlaps(HistoryEvent.audience_groups, principal.groups),
        )
        upto_ = sa.tuple_(col(HistoryEvent.tx), col(HistoryEvent.id)) <= sa.tuple_(upto.tx, upto.id)
        async with self._reads() as session:
            result = (
                await session.exec(_task_events().where(_after(after), upto_, audience))
            ).all()
        return [(event, task) for event, task, _ in result]

    async def instance_events(
        self, after: list[tuple[uuid.UUID, int]], upto: int | None = None
    ) -> list[HistoryEvent]:
        """The events of several instances, each after its own seq, in (instance, seq)
        order: one statement for all the instances a process follows."""
        ids, seqs = zip(*after, strict=True) if after else ((), ())
        positions = (
            sa.func.unnest(
                sa.cast(list(ids), pg.ARRAY(sa.Uuid)), sa.cast(list(seqs), pg.ARRAY(sa.BigInteger))
            )
            .table_valued("instance_id", "seq")
            .render_derived()
        )
        query = (
            select(HistoryEvent)
            .join(
                positions,
                sa.and_(
                    col(HistoryEvent.instance_id) == positions.c.instance_id,
                    col(HistoryEvent.seq) > positions.c.seq,
                ),
            )
            .order_by(col(HistoryEvent.instance_id), col(HistoryEvent.seq))
            .limit(PAGE)
        )
        if upto is not None:
            query = query.where(col(HistoryEvent.seq) <= upto)
        async with self._reads() as session:
            return list((await session.exec(query)).all())
