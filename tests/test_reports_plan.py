"""Reports read only the instances of their window, through their indexes, at a size where
a sequential scan would be the wrong plan."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from api.auth.principal import ADMIN_ROLE, Principal
from api.db import create_engine, create_sessionmaker
from api.embedded import drop_database, ensure_database
from api.migrate import upgrade
from api.services.reports import ReportService
from api.settings import Settings
from bench.history_data import REPORTED, history_fill
from tests.plans import capturing, plans

INSTANCES = 40_000
ADMIN = Principal(id=uuid.uuid4(), username="a", groups=frozenset(), roles=frozenset({ADMIN_ROLE}))
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def big_history(database_url: str) -> AsyncIterator[Settings]:
    name = f"flowdesk_reports_{secrets.token_hex(4)}"
    url = await ensure_database(database_url, name)
    await upgrade(url)
    settings = Settings(database_url=url)
    engine = create_engine(settings)
    async with engine.begin() as connection:
        for statement in history_fill(INSTANCES):
            await connection.exec_driver_sql(statement)
    await engine.dispose()
    yield settings
    await drop_database(database_url, name)


def _is_report(statement: str) -> bool:
    return statement.split()[:2] == ["WITH", "instances"]


async def test_reports_use_the_window_indexes_in_custom_and_generic_plans(
    big_history: Settings,
) -> None:
    engine = create_engine(big_history)
    reports = ReportService(create_sessionmaker(engine))
    async with capturing(engine, _is_report) as seen:
        stats = await reports.definition_stats(ADMIN, REPORTED, None, DAY, DAY + timedelta(days=1))
        await reports.throughput(ADMIN, REPORTED, timedelta(hours=1), DAY, DAY + timedelta(days=1))
    # One day of one definition: 240 instances of either, half of them this one's.
    assert stats.started == stats.completed == 120
    assert len(seen) == 5
    try:
        for statement, parameters in seen:
            for mode, plan in (await plans(engine, statement, parameters)).items():
                for table in ("process_instances", "history_events", "tasks"):
                    assert f"Seq Scan on {table}" not in plan, (mode, plan)
                assert "ix_process_instances_definition_" in plan, (mode, plan)
    finally:
        await engine.dispose()
