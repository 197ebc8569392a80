"""Every PostgreSQL connection of the app terminated between requests (a restart, a
failover, pg_terminate_backend): the next requests draw fresh connections and succeed,
and nothing committed is reported as failed."""

from __future__ import annotations

import asyncpg
import sqlalchemy as sa
from sqlmodel import select

from api.db import SessionMaker, read_after_write, reading
from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.factories import claim, complete, deploy, inbox, instance, one_task, start
from tests.kit.people import as_user
from tests.kit.waiting import eventually


async def terminate_every_connection(settings: Settings) -> int:
    """Terminate every connection to the test database but this one (the app's pools, the
    worker's and the tests' own), and wait until their server processes are gone: the
    next request comes after the loss, not in the middle of it."""
    return await terminate(settings, None)


async def terminate(settings: Settings, pids: list[int] | None) -> int:
    """Terminate the server processes `pids` (None: all of the database's but this one)."""
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        if pids is None:
            pids = [
                row["pid"]
                for row in await connection.fetch(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ]
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", pids
        )
        await eventually(
            lambda: connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
            ),
            lambda listed: listed == 0,
            what="terminated connections to leave pg_stat_activity",
        )
    finally:
        await connection.close()
    return len(pids)


async def test_a_read_after_a_write_runs_again_when_its_connection_is_lost_under_it(
    sessions: SessionMaker, settings: Settings
) -> None:
    reads = reading(sessions)
    drawn: list[int] = []

    async def read() -> int:
        async with reads() as session:
            pid: int = (await session.exec(select(sa.func.pg_backend_pid()))).one()
            if not drawn:
                # Lost after the checkout, in the middle of the read.
                await terminate(settings, [pid])
            drawn.append(pid)
            answer: int = (await session.exec(select(sa.literal(42)))).one()
            return answer

    assert await read_after_write(read) == 42
    assert len(drawn) == 2 and drawn[0] != drawn[1]


async def test_requests_after_every_connection_was_terminated_succeed(
    client: GraphQLClient, users: UserService, settings: Settings, unique: str
) -> None:
    group = f"lost-{unique}"
    caller = await as_user(client, users, groups=[group])
    definition = await deploy(caller, one_task(group=group))
    await start(caller, definition["key"])  # the pools hold connections now

    assert await terminate_every_connection(settings) > 0
    started = await start(caller, definition["key"])
    [task] = started["tasks"]

    assert await terminate_every_connection(settings) > 0
    assert (await claim(caller, task["id"]))["status"] == "CLAIMED"

    assert await terminate_every_connection(settings) > 0
    assert (await complete(caller, task["id"], approved=True))["status"] == "COMPLETED"

    assert await terminate_every_connection(settings) > 0
    assert task["id"] not in {edge["node"]["id"] for edge in (await inbox(caller))["edges"]}
    done = await instance(caller, started["id"])
    assert done["status"] == "COMPLETED"
    assert done["variables"] == {"approved": True}
