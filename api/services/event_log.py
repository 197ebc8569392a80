"""Reading the history log without loss: the statements every live subscription is
served from (api/live shares them between subscribers).

Task events are ordered by (tx, id): the writing transaction's id, then the row id. A
row of a transaction with a smaller tx may commit after one with a larger tx, so a
reader only takes rows below a horizon H such that every transaction that writes the
log with an id below H has ended: none of them can then add a row behind the reader.

The horizon depends only on transactions that write the log. The snapshot's xmin would
do, but it is server-wide: one transaction held open in another database (or a report
in this one) would hold every event back for as long as it runs. Instead, a transaction
that writes the log marks itself, before its first write, with a shared advisory lock
(history.mark_log_writer); the reader takes, in one statement,

    H = min(xmax of the statement's snapshot, xids of the marked writers of this database)

then reads the rows with tx < H in a second statement (a later snapshot). Why no row
below H can still appear: take a writer W whose xid w is below H, so below xmax. xmax is
one past the latest completed xid, and xids are handed out in increasing order, so w was
handed out before the snapshot was taken, and W, which marks itself before it has an id,
was marked before that. When the statement then reads the lock table (pg_locks) and the
backends' xids (pg_stat_activity), W either still holds its mark, and its xid w, set
when it was handed out, is read, so H <= w: a contradiction; or it has ended, and a
transaction releases its locks and clears its xid only after its commit (or abort) is
visible to new snapshots. Either way W's rows are all visible to the second statement's
snapshot, or never will be. A writer marked after the lock table was read gets its xid
later still, at or above xmax, so at or above H. Transactions that never write the log
(in this database or another) hold nothing back; a writer that wrote before marking
itself is refused (mark_log_writer), and so is an unmarked insert (insert_events).

One instance's events are ordered by their seq, which is handed out under the instance's
row lock, so they commit in seq order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from api.auth.principal import Principal
from api.cursors import Keyset, whole
from api.db import SessionMaker, reading
from api.events import TASK_EVENT_TYPES
from api.models import HistoryEvent, Task, overlaps
from api.services.history import LOG_WRITER_LOCK

# A client's `since`: the (tx, id) of the last event it read.
_SINCE = Keyset((whole, whole), field="since")

# Rows per statement: bounds the memory of one read; a full page is read on at once.
PAGE = 500

# The 64-bit id of a marked writer, from the 32-bit backend_xid: the value within 2^31 of
# the snapshot's xmax (a running transaction is far closer than that).
_HORIZON = sa.text(
    """
    WITH snap AS (SELECT (pg_snapshot_xmax(pg_current_snapshot())::text)::bigint AS xmax)
    SELECT least(
      snap.xmax,
      min(snap.xmax + ((((a.backend_xid::text)::bigint - (snap.xmax & 4294967295)
                         + 2147483648) & 4294967295) - 2147483648))
    )
    FROM snap
    LEFT JOIN pg_locks l
      ON l.locktype = 'advisory' AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    GROUP BY snap.xmax
    """
).bindparams(hi=LOG_WRITER_LOCK >> 32, lo=LOG_WRITER_LOCK & 0xFFFFFFFF)


@dataclass(frozen=True, order=True)
class LogPosition:
    tx: int
    id: int

    def encode(self) -> str:
        return _SINCE.cursor(self.tx, self.id)

    @classmethod
    def decode(cls, cursor: str | None) -> LogPosition | None:
        """The position a client's `since` names; None for none."""
        position = _SINCE.position(cursor)
        return None if position is None else cls(*position)

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


def _task_events(horizon: int) -> Select[HistoryEvent, Task, bool]:
    return (
        select(HistoryEvent, Task, col(HistoryEvent.tx) >= horizon)
        .join(Task, col(Task.id) == col(HistoryEvent.task_id))
        .where(col(HistoryEvent.type).in_(TASK_EVENT_TYPES))
        .order_by(col(HistoryEvent.tx), col(HistoryEvent.id))
        .limit(PAGE)
    )


async def _horizon(session: AsyncSession) -> int:
    """H (see the module's docstring); rows below it are read by a later statement."""
    return int((await session.exec(_HORIZON)).scalar_one())  # type: ignore[call-overload]


class EventLog:
    def __init__(self, sessions: SessionMaker) -> None:
        # One statement per read, outside a transaction: no BEGIN/ROLLBACK round trips.
        self._reads = reading(sessions)

    async def head(self) -> LogPosition:
        """Where a reader that wants only what comes next starts: nothing committed by a
        transaction still running is behind it."""
        async with self._reads() as session:
            return LogPosition(await _horizon(session), 0)

    async def settled_task_events(self, after: LogPosition) -> tuple[list[TaskEventRow], bool]:
        """Everyone's task events after `after` that no running transaction can still
        precede (up to PAGE), with their tasks; and whether newer rows are held back."""
        async with self._reads() as session:
            horizon = await _horizon(session)
            result = (await session.exec(_task_events(horizon).where(_after(after)))).all()
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
                await session.exec(_task_events(upto.tx + 1).where(_after(after), upto_, audience))
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
