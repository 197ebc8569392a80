"""Reads outside a transaction: `reading()` sessions run each statement on its own, so a
read costs its statement alone (no BEGIN and ROLLBACK round trips around it)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select

from api.db import SessionMaker, reading


async def _two_transaction_starts(sessions: SessionMaker) -> tuple[object, object]:
    # now() is the start of the current transaction: equal twice inside one.
    async with sessions() as session:
        first = (await session.exec(select(sa.func.now()))).one()
        await session.exec(select(sa.func.pg_sleep(0.01)))
        second = (await session.exec(select(sa.func.now()))).one()
    return first, second


async def test_reading_sessions_run_each_statement_on_its_own(sessions: SessionMaker) -> None:
    first, second = await _two_transaction_starts(reading(sessions))
    assert first != second


async def test_default_sessions_stay_transactional(sessions: SessionMaker) -> None:
    first, second = await _two_transaction_starts(sessions)
    assert first == second


def test_one_reader_per_sessionmaker(sessions: SessionMaker) -> None:
    assert reading(sessions) is reading(sessions)
