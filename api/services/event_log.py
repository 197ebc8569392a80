"""Reading the history log live and without loss: what every subscription serves.

Task events are ordered by (tx, id): the writing transaction's id, then the row id. A
reader only takes rows of transactions older than the oldest one still running (the
snapshot's xmin); any transaction that commits later has a larger tx, so it can never
add a row behind the reader's cursor. One instance's events are ordered by their seq,
which is handed out under the instance's row lock, so they commit in seq order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from api.auth.principal import Principal
from api.cursors import decode_cursor, encode_cursor
from api.db import SessionMaker
from api.errors import BadUserInput
from api.events import TASK_EVENT_TYPES, EventBus
from api.models import HistoryEvent, overlaps

# How long a reader waits for a notice before it looks anyway: the bound on the delay
# when notices are lost (Redis away), and how soon a held-back row is looked at again.
IDLE_POLL = 1.0
HELD_POLL = 0.05
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


class EventLog:
    def __init__(self, sessions: SessionMaker, bus: EventBus) -> None:
        self._sessions = sessions
        self._bus = bus

    async def head(self) -> LogPosition:
        """Where a reader that wants only what comes next starts: nothing committed by a
        transaction still running is behind it."""
        async with self._sessions() as session:
            xmin = (await session.exec(select(_XMIN))).one()
        return LogPosition(int(xmin), 0)

    async def task_events(
        self, principal: Principal, since: LogPosition | None
    ) -> AsyncIterator[HistoryEvent]:
        """Every task event that concerned `principal` after `since` (or from now), in log
        order, each once; then the live ones as they commit."""
        channels = [self._bus.user_channel(principal.id)]
        channels += [self._bus.group_channel(g) for g in sorted(principal.groups)]
        audience = sa.or_(
            col(HistoryEvent.audience_users).contains([principal.id]),
            overlaps(HistoryEvent.audience_groups, principal.groups),
        )
        async with self._bus.doorbell(channels) as doorbell:
            position = since or await self.head()
            while True:
                rows, held = await self._read_after(position, audience)
                for row in rows:
                    position = LogPosition.of(row)
                    yield row
                if len(rows) < PAGE:
                    await doorbell.wait(HELD_POLL if held else IDLE_POLL)

    async def _read_after(
        self, position: LogPosition, audience: sa.ColumnElement[bool]
    ) -> tuple[list[HistoryEvent], bool]:
        """The settled rows after `position`, and whether newer rows are held back."""
        query = (
            select(HistoryEvent, col(HistoryEvent.tx) >= _XMIN)
            .where(
                sa.tuple_(col(HistoryEvent.tx), col(HistoryEvent.id))
                > sa.tuple_(position.tx, position.id),
                col(HistoryEvent.type).in_(TASK_EVENT_TYPES),
                audience,
            )
            .order_by(col(HistoryEvent.tx), col(HistoryEvent.id))
            .limit(PAGE)
        )
        async with self._sessions() as session:
            result = (await session.exec(query)).all()
        settled = [row for row, held in result if not held]
        return settled, len(settled) < len(result)

    async def instance_events(
        self, instance_id: uuid.UUID, since: int
    ) -> AsyncIterator[HistoryEvent]:
        """One instance's events after seq `since`, then live ones, in seq order."""
        async with self._bus.doorbell([self._bus.instance_channel(instance_id)]) as doorbell:
            seq = since
            while True:
                async with self._sessions() as session:
                    rows = (
                        await session.exec(
                            select(HistoryEvent)
                            .where(
                                col(HistoryEvent.instance_id) == instance_id,
                                col(HistoryEvent.seq) > seq,
                            )
                            .order_by(col(HistoryEvent.seq))
                            .limit(PAGE)
                        )
                    ).all()
                for row in rows:
                    seq = row.seq
                    yield row
                if len(rows) < PAGE:
                    await doorbell.wait(IDLE_POLL)
