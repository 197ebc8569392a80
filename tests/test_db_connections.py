"""Every PostgreSQL connection of the app terminated between requests (a restart, a
failover, pg_terminate_backend): the next requests draw fresh connections and succeed,
and nothing committed is reported as failed."""

from __future__ import annotations

import asyncpg

from api.services.users import UserService
from api.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import make_user
from tests.factories import claim, complete, deploy, inbox, instance, one_task, start


async def terminate_every_connection(settings: Settings) -> int:
    """Terminate every connection to the test database but this one: the app's pools, the
    worker's and the tests' own."""
    connection = await asyncpg.connect(settings.database_url.replace("+asyncpg", ""))
    try:
        terminated: int = await connection.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return terminated


async def test_requests_after_every_connection_was_terminated_succeed(
    client: GraphQLClient, users: UserService, settings: Settings, unique: str
) -> None:
    group = f"lost-{unique}"
    caller = await client.login((await make_user(users, groups=[group])).username)
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
