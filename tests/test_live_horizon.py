"""Only transactions that write the log hold live events back: one held open in another
database, or in Flowdesk's own without writing the log, delays nothing; a writer of the
log that commits late is still delivered, in log order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from api.db import SessionMaker, engine_of
from api.embedded import drop_database
from api.embedded.postgres import ensure_database
from api.services.history import NewEvent, insert_events, mark_log_writer
from api.services.users import UserService
from api.settings import Settings
from bench.ws import subscribe
from engine.enums import HistoryEventType
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.factories import claim, deploy, one_task, start
from tests.kit.operations import UNCLAIM
from tests.kit.people import as_user
from tests.test_live_delivery import TASK_EVENTS, heard
from tests.test_subscriptions import ws_url


@asynccontextmanager
async def open_transaction(url: str) -> AsyncIterator[None]:
    """A transaction with an id of its own, open until the block ends."""
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.fetchval("SELECT pg_current_xact_id()")
        yield
        await transaction.rollback()
    finally:
        await connection.close()


@pytest.mark.parametrize("where", ["another database", "flowdesk's own database"])
async def test_a_transaction_that_does_not_write_the_log_delays_no_event(
    client: GraphQLClient,
    users: UserService,
    app_url: str,
    settings: Settings,
    unique: str,
    where: str,
) -> None:
    group = f"g-{unique}"
    actor = await as_user(client, users, groups=[group])
    task_id = (await start(actor, (await deploy(actor, one_task(group=group)))["key"]))["tasks"][0][
        "id"
    ]
    server = make_url(settings.database_url).set(database="postgres").render_as_string(False)
    other = f"throwaway_{unique}"
    url = (
        await ensure_database(server, other)
        if where == "another database"
        else settings.database_url
    )
    try:
        async with (
            subscribe(ws_url(app_url), TASK_EVENTS, actor.token) as sub,
            open_transaction(url),
        ):
            # Heard while that transaction is still open (the snapshot's xmin, which is
            # server-wide, would hold it back until it ends).
            await claim(actor, task_id)
            event = await heard(sub)
            while event["type"] != "TASK_CLAIMED":
                event = await heard(sub)
    finally:
        if where == "another database":
            await drop_database(server, other)


async def test_a_log_writer_committing_late_is_delivered_before_what_came_after_it(
    client: GraphQLClient, users: UserService, app_url: str, sessions: SessionMaker, unique: str
) -> None:
    group = f"g-{unique}"
    actor = await as_user(client, users, groups=[group])
    started = await start(actor, (await deploy(actor, one_task(group=group)))["key"])
    task_id = started["tasks"][0]["id"]
    async with subscribe(ws_url(app_url), TASK_EVENTS, actor.token) as sub:
        await claim(actor, task_id)
        claimed = await heard(sub)
        while claimed["type"] != "TASK_CLAIMED":
            claimed = await heard(sub)
        async with engine_of(sessions).connect() as connection:
            transaction = await connection.begin()
            # A writer that has its id first: its event sorts before the unclaim below,
            # which commits before it does.
            await mark_log_writer(connection)
            await insert_events(
                connection,
                decode_id(started["id"], "ProcessInstance"),
                1_000_000,
                [
                    NewEvent(
                        HistoryEventType.TASK_UPDATED,
                        at=datetime.now(UTC),
                        task_id=decode_id(task_id, "Task"),
                        audience_groups=(group,),
                    )
                ],
            )
            await actor.execute(UNCLAIM, {"id": task_id})
            # Held back behind the writer still running, not delivered past it.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.0):
                    await sub.next()
            await transaction.commit()
        late, unclaimed = await heard(sub), await heard(sub)
    assert (late["type"], unclaimed["type"]) == ("TASK_UPDATED", "TASK_UNCLAIMED")


async def test_a_log_writer_that_wrote_before_marking_itself_is_refused(
    sessions: SessionMaker,
) -> None:
    async with engine_of(sessions).connect() as connection, connection.begin():
        await connection.exec_driver_sql("SELECT pg_current_xact_id()")
        with pytest.raises(RuntimeError, match="before its first write"):
            await mark_log_writer(connection)
    async with engine_of(sessions).connect() as connection, connection.begin():
        with pytest.raises(RuntimeError, match="mark_log_writer"):
            await insert_events(
                connection,
                uuid.uuid4(),
                1,
                [NewEvent(HistoryEventType.TASK_UPDATED, at=datetime.now(UTC))],
            )
