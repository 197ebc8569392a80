"""The inbox query is served by its partial indexes at a realistic size, in the plan
PostgreSQL picks for the first executions and in the generic plan prepared statements
switch to after five."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import pytest

from api.auth.principal import Principal
from api.db import create_engine, create_sessionmaker
from api.embedded import drop_database, ensure_database
from api.migrate import upgrade
from api.services.inbox import InboxService, TaskQuery
from api.settings import Settings
from tests.plans import capturing, plans

ME = uuid.UUID("00000000-0000-0000-0001-000000000000")
TASKS = 50_000

FILL = [
    "INSERT INTO users (id, username, password_hash, roles, created_at)"
    " SELECT ('00000000-0000-0000-0001-' || lpad(g::text, 12, '0'))::uuid, 'u' || g, 'x', '{}', now()"
    " FROM generate_series(0, 100) g",
    "INSERT INTO process_definitions (id, key, version, name, spec, checksum, suspended, deployed_at)"
    " VALUES ('00000000-0000-0000-0000-000000000001', 'k', 1, 'n', '{}', 'x', false, now())",
    "INSERT INTO process_instances (id, definition_id, status, variables, step, last_seq, started_at)"
    " SELECT ('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid,"
    " '00000000-0000-0000-0000-000000000001', 'RUNNING', '{}', 1, 0, now()"
    " FROM generate_series(1, 1000) g",
    # Mostly closed tasks and other people's, a few of mine and of my group.
    "INSERT INTO tasks (id, instance_id, node_id, name, status, assignee_id, candidate_users,"
    " candidate_groups, priority, version, created_at, variables)"
    " SELECT gen_random_uuid(), ('00000000-0000-0000-0000-' || lpad((1 + g % 1000)::text, 12, '0'))::uuid,"
    " 'n', 'task ' || g,"
    " CASE WHEN g % 10 < 7 THEN 'COMPLETED' WHEN g % 10 < 9 THEN 'CREATED' ELSE 'CLAIMED' END,"
    " CASE WHEN g % 10 = 9 THEN ('00000000-0000-0000-0001-' || lpad((1 + g % 100)::text, 12, '0'))::uuid END,"
    " '{}', ARRAY['group' || (g % 500)], 50, 1, now() - (g || ' seconds')::interval, '{}'"
    f" FROM generate_series(1, {TASKS}) g",
    "INSERT INTO tasks (id, instance_id, node_id, name, status, assignee_id, candidate_users,"
    " candidate_groups, priority, version, created_at, variables)"
    f" SELECT gen_random_uuid(), '00000000-0000-0000-0000-000000000001', 'n', 'mine ' || g, 'CLAIMED', '{ME}',"
    " '{}', ARRAY['mygroup'], 50, 1, now() - (g || ' seconds')::interval, '{}' FROM generate_series(1, 60) g",
    "ANALYZE",
]


@pytest.fixture(scope="module")
async def big_inbox(database_url: str) -> AsyncIterator[Settings]:
    name = f"flowdesk_plan_{secrets.token_hex(4)}"
    url = await ensure_database(database_url, name)
    await upgrade(url)
    settings = Settings(database_url=url)
    engine = create_engine(settings)
    async with engine.begin() as connection:
        for statement in FILL:
            await connection.exec_driver_sql(statement)
    await engine.dispose()
    yield settings
    await drop_database(database_url, name)


async def test_the_inbox_uses_its_partial_indexes_in_custom_and_generic_plans(
    big_inbox: Settings,
) -> None:
    engine = create_engine(big_inbox)
    principal = Principal(
        id=ME, username="u0", groups=frozenset({"mygroup", "group7"}), roles=frozenset()
    )
    async with capturing(engine, lambda s: s.lstrip().upper().startswith("SELECT TASKS")) as seen:
        page = await InboxService(create_sessionmaker(engine)).page(
            principal, TaskQuery(), after=None, limit=51
        )
    assert len(page) == 51
    found = await plans(engine, *seen[-1])
    await engine.dispose()
    for mode, plan in found.items():
        assert "Seq Scan on tasks" not in plan, (mode, plan)
        for index in ("ix_tasks_open_assignee", "ix_tasks_open_candidate_groups"):
            assert index in plan, (mode, plan)
    assert "$1" in found["force_generic_plan"]  # it really is the generic plan
