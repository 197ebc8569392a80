"""The Alembic migrations build exactly the schema the SQLModel tables describe."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from api.models import DelegationState
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus


async def test_autogenerate_finds_no_difference_between_models_and_migrations(
    database_url: str,
) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_status_check_constraints_admit_exactly_the_python_enums(database_url: str) -> None:
    """Autogenerate does not compare CHECK constraints; this does, for every enum column."""
    expected = {
        "ck_process_instances_instance_status": InstanceStatus,
        "ck_tasks_task_status": TaskStatus,
        "ck_pending_completions_task_status": TaskStatus,
        "ck_tasks_delegation_state": DelegationState,
        "ck_history_events_history_event_type": HistoryEventType,
    }
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint"
            " WHERE contype = 'c' AND conname = ANY($1::text[])",
            list(expected),
        )
    finally:
        await connection.close()
    found = {row["conname"]: set(re.findall(r"'([A-Z_]+)'", row["definition"])) for row in rows}
    assert found == {name: {m.value for m in kind} for name, kind in expected.items()}


async def test_inbox_gin_indexes_have_no_pending_list(database_url: str) -> None:
    """Autogenerate does not compare index storage options either."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[])",
            ["ix_tasks_open_candidate_groups", "ix_tasks_open_candidate_users"],
        )
    finally:
        await connection.close()
    assert {row["relname"]: row["reloptions"] for row in rows} == {
        "ix_tasks_open_candidate_groups": ["fastupdate=off"],
        "ix_tasks_open_candidate_users": ["fastupdate=off"],
    }
