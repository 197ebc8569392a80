"""The websocket side of live delivery: refusals that say why, keep-alive, limits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker, engine_of
from api.embedded import free_port
from api.services.history import NewEvent, insert_events, mark_log_writer
from api.services.users import UserService
from api.settings import Settings
from bench.ws import subscribe
from engine.enums import HistoryEventType
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.factories import deploy, one_task, start
from tests.kit.people import as_user, make_user
from tests.kit.waiting import eventually
from tests.test_live_delivery import TASK_EVENTS, heard
from tests.test_subscriptions import ws_url


async def test_a_subscription_sent_over_http_is_refused_with_bad_user_input(
    client: GraphQLClient, users: UserService
) -> None:
    caller = await as_user(client, users)
    answer = await caller.raw(TASK_EVENTS)
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "websocket" in error["message"]


async def closed_with(url: str, payload: dict[str, Any]) -> tuple[int | None, str | None]:
    """The close code and reason of a socket whose connection_init carried `payload`."""
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await socket.recv()
        assert socket.close_code is not None
        return socket.close_code, socket.close_reason


async def test_a_refused_connection_init_closes_with_4403_and_says_why(
    settings: Settings, users: UserService, app_url: str
) -> None:
    user = await make_user(users)
    expired = TokenIssuer(settings.model_copy(update={"jwt_ttl_seconds": -60}))
    url = ws_url(app_url)
    assert await closed_with(url, {}) == (
        4403,
        'no token: send {"authorization": "Bearer <token>"} in connection_init',
    )
    assert await closed_with(url, {"authorization": "Bearer not-a-token"}) == (
        4403,
        "invalid token",
    )
    stale = expired.issue(user.id, user.username)
    assert await closed_with(url, {"authorization": f"Bearer {stale}"}) == (
        4403,
        "expired token: log in again",
    )


class Blackhole:
    """A TCP proxy that can go silent, as a client whose machine vanished: nothing passes
    either way any more, and nothing is closed."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.silent = asyncio.Event()
        self.port = free_port()

    async def __aenter__(self) -> Blackhole:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while not self.silent.is_set():
                data = await source.read(65536)
                if not data or self.silent.is_set():
                    break
                sink.write(data)
            await asyncio.Event().wait()  # hold the sockets open, silently

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


async def test_a_client_that_vanishes_is_freed_within_the_ping_interval(
    settings: Settings, client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"g-{unique}"
    user = await make_user(users, groups=[group])
    caller = await client.login(user.username)
    key = (await deploy(caller, one_task(group=group)))["key"]
    own = settings.model_copy(update={"port": free_port(), "ws_ping_seconds": 0.3})
    channel = f"{settings.event_channel_prefix}:user:{user.id}"
    redis = Redis.from_url(settings.redis_url)

    async def listeners() -> int:
        return int(dict(await redis.pubsub_numsub(channel))[channel.encode()])

    try:
        async with (
            serve_app(own),
            Blackhole(own.port) as proxy,
            subscribe(f"ws://127.0.0.1:{proxy.port}/graphql", TASK_EVENTS, caller.token) as sub,
        ):
            await start(caller, key)
            # Live, through the proxy, and answering the server's pings meanwhile.
            assert (await heard(sub))["type"] == "TASK_CREATED"
            assert await listeners() == 1
            proxy.silent.set()
            await eventually(listeners, lambda count: count == 0, what="the silent socket to close")
    finally:
        await redis.aclose()


async def test_a_slow_consumer_is_cut_off_and_resumes_from_its_cursor_losing_nothing(
    settings: Settings,
    client: GraphQLClient,
    users: UserService,
    sessions: SessionMaker,
    unique: str,
) -> None:
    group = f"g-{unique}"
    caller = await as_user(client, users, groups=[group])
    started = await start(caller, (await deploy(caller, one_task(group=group)))["key"])
    own = settings.model_copy(update={"port": free_port(), "live_queue_limit": 3})
    async with serve_app(own) as url:
        instance_id = decode_id(started["id"], "ProcessInstance")
        seqs = itertools.count(2_000_000)

        async def task_updates(count: int) -> None:
            """`count` events in one transaction: one read hands them over at once."""
            async with engine_of(sessions).begin() as connection:
                await mark_log_writer(connection)
                await insert_events(
                    connection,
                    instance_id,
                    next(seqs),
                    [
                        NewEvent(
                            HistoryEventType.TASK_UPDATED,
                            at=datetime.now(UTC),
                            task_id=decode_id(started["tasks"][0]["id"], "Task"),
                            audience_groups=(group,),
                            data={"n": n},
                        )
                        for n in range(count)
                    ],
                )
            for _ in range(count - 1):
                next(seqs)

        async with subscribe(ws_url(url), TASK_EVENTS, caller.token) as sub:
            # A subscription hears what commits after it joined its feed, which happens
            # after the socket's acknowledgement: send one event until it is heard.
            async with asyncio.timeout(15):
                while True:
                    await task_updates(1)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.5):
                            await sub.next()
                            break
            # A marker heard late may have a later one behind it: take them all, until the
            # socket stays quiet for longer than the reader's idle poll.
            with contextlib.suppress(TimeoutError):
                while True:
                    async with asyncio.timeout(1.5):
                        await sub.next()
            await task_updates(6)
            got = []
            async with asyncio.timeout(15):
                while True:
                    payload = await sub.next()
                    if payload.get("errors"):
                        break
                    if payload["data"]["taskEvents"]["type"] == "TASK_UPDATED":
                        got.append(payload["data"]["taskEvents"])
            assert [e["extensions"]["code"] for e in payload["errors"]] == ["SLOW_CONSUMER"]
            assert len(got) == 3
        async with subscribe(
            ws_url(url), TASK_EVENTS, caller.token, {"since": got[-1]["cursor"]}
        ) as sub:
            rest = [await heard(sub) for _ in range(3)]
    cursors = [e["cursor"] for e in got + rest]
    assert len(set(cursors)) == 6


async def test_subscriptions_past_the_cap_of_a_socket_are_refused_with_a_code(
    settings: Settings, client: GraphQLClient, users: UserService
) -> None:
    caller = await as_user(client, users)
    own = settings.model_copy(update={"port": free_port(), "live_subscriptions_per_socket": 2})
    async with serve_app(own) as url, subscribe(ws_url(url), TASK_EVENTS, caller.token) as sub:
        for id_ in ("2", "3"):
            await sub.socket.send(
                json.dumps({"id": id_, "type": "subscribe", "payload": {"query": TASK_EVENTS}})
            )
        message = await sub.message()
    assert message["id"] == "3"
    assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == [
        "TOO_MANY_SUBSCRIPTIONS"
    ]


async def test_a_subscription_whose_database_connections_are_cut_goes_on(
    settings: Settings, client: GraphQLClient, users: UserService, unique: str
) -> None:
    group = f"g-{unique}"
    caller = await as_user(client, users, groups=[group])
    started = await start(caller, (await deploy(caller, one_task(group=group)))["key"])
    # Events are written, and backends looked at, through an engine of the test's own.
    writer = create_async_engine(settings.database_url, poolclass=NullPool)

    async def backends() -> set[int]:
        async with writer.connect() as connection:
            rows = await connection.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
            return {pid for (pid,) in rows}

    async def write(n: int) -> None:
        async with writer.begin() as connection:
            await mark_log_writer(connection)
            await insert_events(
                connection,
                decode_id(started["id"], "ProcessInstance"),
                3_000_000 + n,
                [
                    NewEvent(
                        HistoryEventType.TASK_UPDATED,
                        at=datetime.now(UTC),
                        task_id=decode_id(started["tasks"][0]["id"], "Task"),
                        audience_groups=(group,),
                        data={"n": n},
                    )
                ],
            )

    own = settings.model_copy(update={"port": free_port()})
    try:
        before = await backends()
        async with serve_app(own) as url, subscribe(ws_url(url), TASK_EVENTS, caller.token) as sub:
            await write(0)
            assert (await heard(sub))["type"] == "TASK_UPDATED"
            cut = await backends() - before
            async with writer.connect() as connection:
                for pid in cut:
                    await connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            assert cut  # the app's, at least the one its reader used
            for n in (1, 2):
                await write(n)
                assert (await heard(sub))["type"] == "TASK_UPDATED"
    finally:
        await writer.dispose()
