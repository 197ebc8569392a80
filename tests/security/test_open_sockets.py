"""Open websockets are re-checked: an expired token or a deactivated account closes the
socket with 4403 and a reason, and a change of groups narrows or widens what it delivers.
Over a real websocket, against apps served as clients reach them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed

from api.auth.tokens import TokenIssuer
from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from bench.ws import Subscription, subscribe
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.factories import deploy, one_task, start
from tests.security.conftest import Person
from tests.test_live_delivery import TASK_EVENTS, heard
from tests.test_subscriptions import ws_url

DEACTIVATE = "mutation($id: ID!) { deactivateUser(id: $id) { active } }"
MEMBER = "mutation($g: String!, $u: ID!) { %s(groupKey: $g, userId: $u) { key } }"
GONE = "the token's user no longer exists or is deactivated"


async def closed(sub: Subscription, within: float = 10.0) -> tuple[int | None, str | None]:
    """The close code and reason of a socket that the server closes within `within` s,
    answering its pings meanwhile; fails on any event delivered."""
    async with asyncio.timeout(within):
        try:
            while True:
                message = json.loads(await sub.socket.recv())
                assert message["type"] == "ping", message
                await sub.socket.send(json.dumps({"type": "pong"}))
        except ConnectionClosed:
            return sub.socket.close_code, sub.socket.close_reason


@asynccontextmanager
async def app(settings: Settings, **changes: Any) -> AsyncIterator[str]:
    """Another API process of the same deployment (same database, Redis and secret)."""
    async with serve_app(settings.model_copy(update={"port": free_port(), **changes})) as url:
        yield url


@asynccontextmanager
async def client_of(url: str, username: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield await GraphQLClient(http).login(username)


async def test_a_socket_closes_with_4403_when_its_token_expires(
    settings: Settings, app_url: str, people: Any
) -> None:
    person: Person = await people()
    short = TokenIssuer(settings.model_copy(update={"jwt_ttl_seconds": 2}))
    token = short.issue(person.row.id, person.username)
    async with subscribe(ws_url(app_url), TASK_EVENTS, token) as sub:
        assert await closed(sub) == (4403, "token expired: log in again")


async def test_deactivation_closes_the_users_sockets_in_the_process_that_deactivated_them(
    settings: Settings, people: Any
) -> None:
    admin: Person = await people(roles=["admin"])
    person: Person = await people()
    # A minute of principal cache: neither the cache nor the periodic check explains a
    # prompt close, only the deactivation itself.
    async with (
        app(settings, principal_cache_seconds=60) as url,
        client_of(url, admin.username) as as_admin,
        client_of(url, person.username) as as_person,
        subscribe(ws_url(url), TASK_EVENTS, as_person.token) as sub,
    ):
        await as_admin.execute(DEACTIVATE, {"id": person.id})
        assert await closed(sub) == (4403, GONE)


async def test_deactivation_in_another_process_closes_the_sockets_within_its_cache_time(
    settings: Settings, people: Any
) -> None:
    admin: Person = await people(roles=["admin"])
    person: Person = await people()
    async with (
        app(settings, principal_cache_seconds=0.5) as url,
        client_of(url, person.username) as as_person,
        subscribe(ws_url(url), TASK_EVENTS, as_person.token) as sub,
    ):
        # Deactivated through the other app: another API process as far as sockets go.
        await admin.client.execute(DEACTIVATE, {"id": person.id})
        assert await closed(sub) == (4403, GONE)


async def test_a_change_no_process_announces_closes_the_socket_within_the_cache_time(
    settings: Settings, users: UserService, people: Any
) -> None:
    admin: Person = await people(roles=["admin"])
    person: Person = await people()
    async with (
        app(settings, principal_cache_seconds=0.5) as url,
        client_of(url, person.username) as as_person,
        subscribe(ws_url(url), TASK_EVENTS, as_person.token) as sub,
    ):
        # As `flowdesk` commands do: a service of its own, which announces nothing.
        await users.deactivate_user(await users.principal(admin.row.id), person.row.id)
        assert await closed(sub) == (4403, GONE)


async def test_a_group_change_narrows_and_widens_an_open_task_stream(
    app_url: str, people: Any, unique: str
) -> None:
    left, joined = f"left-{unique}", f"joined-{unique}"
    admin: Person = await people(roles=["admin"])
    person: Person = await people(groups=[left])
    await admin.client.execute(
        "mutation($k: String!) { createGroup(key: $k) { key } }", {"k": joined}
    )
    old_key = (await deploy(admin.client, one_task(group=left)))["key"]
    new_key = (await deploy(admin.client, one_task(group=joined)))["key"]
    async with (
        client_of(app_url, person.username) as as_person,
        subscribe(ws_url(app_url), TASK_EVENTS, as_person.token) as sub,
    ):
        first = await start(admin.client, old_key)
        event = await heard(sub)
        assert (event["type"], event["task"]["id"]) == ("TASK_CREATED", first["tasks"][0]["id"])
        await admin.client.execute(MEMBER % "removeGroupMember", {"g": left, "u": person.id})
        await admin.client.execute(MEMBER % "addGroupMember", {"g": joined, "u": person.id})
        await start(admin.client, old_key)
        widened = await start(admin.client, new_key)
        # Log order: the task of the group left came first, and is not delivered.
        event = await heard(sub)
        assert (event["type"], event["task"]["id"]) == (
            "TASK_CREATED",
            widened["tasks"][0]["id"],
        )


INSTANCE_EVENTS = "subscription($id: ID!) { instanceEvents(id: $id) { seq type } }"


async def test_an_instance_stream_ends_with_not_found_when_its_reader_leaves_the_group(
    app_url: str, people: Any, unique: str
) -> None:
    auditors = f"auditors-{unique}"
    admin: Person = await people(roles=["admin"])
    person: Person = await people(groups=[auditors])
    definition = {**one_task(group=f"nobody-{unique}"), "visibleTo": {"groups": [auditors]}}
    started = await start(admin.client, (await deploy(admin.client, definition))["key"])
    async with (
        client_of(app_url, person.username) as as_person,
        subscribe(ws_url(app_url), INSTANCE_EVENTS, as_person.token, {"id": started["id"]}) as sub,
    ):
        await admin.client.execute(MEMBER % "removeGroupMember", {"g": auditors, "u": person.id})
        async with asyncio.timeout(10):
            payload = await sub.next()
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["NOT_FOUND"]


async def test_logout_closes_the_sockets_of_its_token_within_the_cache_time(
    settings: Settings, people: Any
) -> None:
    person: Person = await people()
    async with (
        app(settings, principal_cache_seconds=0.5) as url,
        client_of(url, person.username) as as_person,
        subscribe(ws_url(url), TASK_EVENTS, as_person.token) as sub,
    ):
        assert await as_person.execute("mutation { logout }") == {"logout": True}
        assert await closed(sub) == (4403, "this token was logged out: log in again")
