"""Live subscriptions: the right people hear of each change, none is lost or repeated,
also across a reconnect, a Redis restart and two API replicas."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.db import SessionMaker
from api.embedded import EmbeddedRedis, free_port
from api.services.users import UserService
from api.settings import Settings
from bench.ws import Subscription, subscribe
from tests.client import GraphQLClient, GraphQLError
from tests.conftest import embedded_home, run_worker, serve_app
from tests.factories import claim, complete, deploy, one_task, start
from tests.kit.people import as_user, make_user

TASK_EVENTS = """subscription($since: String) {
  taskEvents(since: $since) { type cursor at task { id name status assignee { username } } }
}"""
INSTANCE_EVENTS = """subscription($id: ID!, $since: Int) {
  instanceEvents(id: $id, since: $since) { seq type nodeId taskId at data }
}"""


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/graphql"


def errors(message: dict[str, Any]) -> list[str]:
    """The codes of a subscription's errors: sent as `error` when the subscription is
    refused up front, as `next` with errors when it fails on its first step."""
    assert message["type"] in ("error", "next"), message
    found = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return [e["extensions"]["code"] for e in found]


def event(payload: dict[str, Any]) -> dict[str, Any]:
    assert not payload.get("errors"), payload
    data: dict[str, Any] = payload["data"]["taskEvents"]
    return data


async def next_event(sub: Subscription) -> dict[str, Any]:
    async with asyncio.timeout(15):
        return event(await sub.next())


async def test_task_events_reach_the_people_concerned_and_no_one_else(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    people = {name: await make_user(users, groups=[f"{name}-{unique}"]) for name in ("a", "b", "c")}
    as_ = {name: await client.login(user.username) for name, user in people.items()}
    keys = {
        name: (await deploy(as_[name], one_task(group=f"{name}-{unique}")))["key"]
        for name in people
    }

    async with (
        subscribe(ws_url(app_url), TASK_EVENTS, as_["a"].token) as to_a,
        subscribe(ws_url(app_url), TASK_EVENTS, as_["b"].token) as to_b,
        subscribe(ws_url(app_url), TASK_EVENTS, as_["c"].token) as to_c,
    ):
        started = await start(as_["a"], keys["a"])
        task_id = started["tasks"][0]["id"]
        await claim(as_["a"], task_id)
        await complete(as_["a"], task_id)
        heard = [await next_event(to_a) for _ in range(3)]
        assert [e["type"] for e in heard] == ["TASK_CREATED", "TASK_CLAIMED", "TASK_COMPLETED"]
        assert {e["task"]["id"] for e in heard} == {task_id}
        assert heard[-1]["task"]["status"] == "COMPLETED"

        # b and c heard nothing of a's task: the first thing each hears is its own.
        for name, sub in (("b", to_b), ("c", to_c)):
            own = await start(as_[name], keys[name])
            first = await next_event(sub)
            assert first["type"] == "TASK_CREATED" and first["task"]["id"] == own["tasks"][0]["id"]


async def test_reconnecting_with_since_replays_what_was_missed_once_then_goes_live(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    user = await make_user(users, groups=[f"g-{unique}"])
    caller = await client.login(user.username)
    key = (await deploy(caller, one_task(group=f"g-{unique}")))["key"]

    async with subscribe(ws_url(app_url), TASK_EVENTS, caller.token) as sub:
        first = await start(caller, key)
        created = await next_event(sub)
        assert created["type"] == "TASK_CREATED"

    # Offline: the task is claimed and completed, and another one created.
    task_id = first["tasks"][0]["id"]
    await claim(caller, task_id)
    await complete(caller, task_id)
    second = await start(caller, key)

    async with subscribe(
        ws_url(app_url), TASK_EVENTS, caller.token, {"since": created["cursor"]}
    ) as sub:
        missed = [await next_event(sub) for _ in range(3)]
        assert [(e["type"], e["task"]["id"]) for e in missed] == [
            ("TASK_CLAIMED", task_id),
            ("TASK_COMPLETED", task_id),
            ("TASK_CREATED", second["tasks"][0]["id"]),
        ]
        # Then live, without repeating anything replayed.
        await claim(caller, second["tasks"][0]["id"])
        live = await next_event(sub)
        assert (live["type"], live["task"]["id"]) == ("TASK_CLAIMED", second["tasks"][0]["id"])
        cursors = [created["cursor"], *(e["cursor"] for e in missed), live["cursor"]]
        assert len(set(cursors)) == len(cursors)


async def test_an_invalid_cursor_is_refused(
    client: GraphQLClient, users: UserService, app_url: str
) -> None:
    caller = await as_user(client, users)
    async with subscribe(
        ws_url(app_url), TASK_EVENTS, caller.token, {"since": "not-a-cursor"}
    ) as sub:
        message = await sub.message()
    assert errors(message) == ["BAD_USER_INPUT"]


async def test_instance_events_replay_the_trace_then_follow_it_live(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    user = await make_user(users, groups=[f"g-{unique}"])
    caller = await client.login(user.username)
    key = (await deploy(caller, one_task(group=f"g-{unique}")))["key"]
    started = await start(caller, key)
    variables = {"id": started["id"], "since": 0}
    async with subscribe(ws_url(app_url), INSTANCE_EVENTS, caller.token, variables) as sub:
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while not seen or seen[-1]["type"] != "TASK_CREATED":
                seen.append((await sub.next())["data"]["instanceEvents"])
            await complete(caller, started["tasks"][0]["id"])
            while seen[-1]["type"] != "INSTANCE_COMPLETED":
                seen.append((await sub.next())["data"]["instanceEvents"])
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert seen[0]["type"] == "INSTANCE_STARTED"
    assert "TASK_COMPLETED" in [e["type"] for e in seen]


async def test_instance_events_are_refused_to_an_outsider(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    owner = await as_user(client, users, groups=[f"g-{unique}"])
    outsider = await as_user(client, users)
    started = await start(owner, (await deploy(owner, one_task(group=f"g-{unique}")))["key"])
    async with subscribe(
        ws_url(app_url), INSTANCE_EVENTS, outsider.token, {"id": started["id"]}
    ) as sub:
        message = await sub.message()
    assert errors(message) == ["NOT_FOUND"]


@asynccontextmanager
async def own_redis_stack(
    settings: Settings, sessions: SessionMaker, temporal: Client, home: Path
) -> AsyncIterator[tuple[str, EmbeddedRedis]]:
    """An app and a worker of their own, talking to a Redis server this test may stop."""
    redis = EmbeddedRedis(home)
    url = await redis.start()
    suffix = secrets.token_hex(4)
    own = settings.model_copy(
        update={"redis_url": url, "port": free_port(), "task_queue": f"own-redis-{suffix}"}
    )
    try:
        async with run_worker(own, sessions, temporal), serve_app(own) as app:
            yield app, redis
    finally:
        redis.stop()


async def test_no_event_is_lost_while_redis_restarts(
    settings: Settings, sessions: SessionMaker, temporal: Client, users: UserService, unique: str
) -> None:
    user = await make_user(users, groups=[f"g-{unique}"])
    with embedded_home() as home:
        async with (
            own_redis_stack(settings, sessions, temporal, home) as (app, redis),
            httpx.AsyncClient(base_url=app, timeout=30) as http,
        ):
            caller = await GraphQLClient(http).login(user.username)
            key = (await deploy(caller, one_task(group=f"g-{unique}")))["key"]
            async with subscribe(ws_url(app), TASK_EVENTS, caller.token) as sub:
                started = await start(caller, key)
                assert (await next_event(sub))["type"] == "TASK_CREATED"
                task_id = started["tasks"][0]["id"]

                redis.stop()
                await claim(caller, task_id)  # its notice has nowhere to go
                await complete(caller, task_id)
                await redis.start()

                heard = [await next_event(sub) for _ in range(2)]
                assert [e["type"] for e in heard] == ["TASK_CLAIMED", "TASK_COMPLETED"]


async def test_a_completion_through_one_replica_reaches_a_subscriber_of_another(
    settings: Settings, users: UserService, app_url: str, unique: str
) -> None:
    """Two API processes sharing nothing but PostgreSQL, Redis and Temporal."""
    port = free_port()
    secret = settings.jwt_secret
    assert secret is not None
    env = {
        **os.environ,
        "FLOWDESK_DATABASE_URL": settings.database_url,
        "FLOWDESK_REDIS_URL": settings.redis_url,
        "FLOWDESK_TEMPORAL_ADDRESS": settings.temporal_address,
        "FLOWDESK_TASK_QUEUE": settings.task_queue,
        "FLOWDESK_EVENT_CHANNEL_PREFIX": settings.event_channel_prefix,
        "FLOWDESK_JWT_SECRET": secret.get_secret_value(),
        "FLOWDESK_PORT": str(port),
    }
    replica = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "flowdesk"),
        "api",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    replica_b = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            async with asyncio.timeout(60):
                while True:
                    try:
                        if (await http.get(f"{replica_b}/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
        user = await make_user(users, groups=[f"g-{unique}"])
        async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
            on_a = await GraphQLClient(http).login(user.username)
            key = (await deploy(on_a, one_task(group=f"g-{unique}")))["key"]
            started = await start(on_a, key)
            async with subscribe(ws_url(replica_b), TASK_EVENTS, on_a.token) as on_b:
                await complete(on_a, started["tasks"][0]["id"])
                heard = await next_event(on_b)
        assert heard["type"] == "TASK_COMPLETED"
        assert heard["task"]["id"] == started["tasks"][0]["id"]
    finally:
        replica.terminate()
        await replica.wait()


async def test_a_refused_change_publishes_nothing(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    first = await as_user(client, users, groups=[group])
    second = await as_user(client, users, groups=[group])
    key = (await deploy(first, one_task(group=group)))["key"]
    started = await start(first, key)
    task_id = started["tasks"][0]["id"]
    await claim(first, task_id)
    async with subscribe(ws_url(app_url), TASK_EVENTS, second.token) as sub:
        for change in (claim(second, task_id), complete(second, task_id)):
            with pytest.raises(GraphQLError):
                await change  # refused, rolled back
        # The next thing `second` hears is a later change, not the refused ones.
        await complete(first, task_id)
        heard = await next_event(sub)
    assert (heard["type"], heard["task"]["id"]) == ("TASK_COMPLETED", task_id)
