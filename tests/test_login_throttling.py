"""Failed logins are throttled per username and per client address, in Redis, so two API
replicas count the same attempts; a successful login counts as none, and a locked
unknown username answers exactly as a locked known one."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from tests.client import PASSWORD
from tests.conftest import serve_app
from tests.kit.people import make_user

LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
USER_LOCK = 3
ADDRESS_LOCK = 8


@pytest.fixture
async def replicas(settings: Settings, worker: Any) -> AsyncIterator[tuple[str, str, Settings]]:
    """Two API processes of one deployment (same Redis namespace), with low thresholds.
    Their own namespace keeps this test's failures from the other tests' address."""
    throttled = settings.model_copy(
        update={
            "event_channel_prefix": f"throttle-{secrets.token_hex(4)}",
            "login_free_failures": 1,
            "login_lock_failures": USER_LOCK,
            "login_address_free_failures": ADDRESS_LOCK,
            "login_address_lock_failures": ADDRESS_LOCK,
            "login_lock_seconds": 2,
            "login_delay_seconds": 0.01,
        }
    )
    one = throttled.model_copy(update={"port": free_port()})
    two = throttled.model_copy(update={"port": free_port()})
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(serve_app(one))
        second = await stack.enter_async_context(serve_app(two))
        yield first, second, throttled


async def login(url: str, username: str, password: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post(
            "/graphql", json={"query": LOGIN, "variables": {"u": username, "p": password}}
        )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    found: dict[str, Any] = error
    return found


async def test_a_username_is_locked_across_replicas_then_unlocked(
    replicas: tuple[str, str, Settings], users: UserService
) -> None:
    first, second, _ = replicas
    name = (await make_user(users)).username
    for attempt in range(USER_LOCK):
        error = refusal(await login((first, second)[attempt % 2], name, "wrong password"))
        assert error["message"] == "invalid username or password"

    locked = refusal(await login(second, name, PASSWORD))
    assert "too many failed logins" in locked["message"]
    assert 0 < locked["extensions"]["retryAfter"] <= 2
    assert "too many failed logins" in refusal(await login(first, name, PASSWORD))["message"]

    await asyncio.sleep(2.2)  # the lock's TTL in Redis, not a timing assertion
    assert (await login(first, name, PASSWORD))["data"]["login"]["token"]


async def test_an_unknown_username_is_answered_as_a_known_one(
    replicas: tuple[str, str, Settings], users: UserService
) -> None:
    first, _, _ = replicas
    known = (await make_user(users)).username
    unknown = f"nobody-{secrets.token_hex(5)}"
    answers: dict[str, list[dict[str, Any]]] = {known: [], unknown: []}
    for name in (known, unknown):
        for _ in range(USER_LOCK + 1):
            answers[name].append(refusal(await login(first, name, "wrong password")))
    strip = [
        [
            {k: v for k, v in e.items() if k != "extensions"} | {"code": e["extensions"]["code"]}
            for e in a
        ]
        for a in answers.values()
    ]
    assert strip[0] == strip[1]
    assert [e["extensions"] for e in answers[known]] == [e["extensions"] for e in answers[unknown]]


async def test_successful_logins_are_not_counted(
    replicas: tuple[str, str, Settings], users: UserService
) -> None:
    first, second, _ = replicas
    name = (await make_user(users)).username
    for i in range(ADDRESS_LOCK + USER_LOCK + 2):
        assert (await login((first, second)[i % 2], name, PASSWORD))["data"]["login"]["token"]
    # One failure in between does not lock either.
    refusal(await login(first, name, "wrong password"))
    assert (await login(first, name, PASSWORD))["data"]["login"]["token"]


async def test_an_address_is_locked_after_failures_across_usernames(
    replicas: tuple[str, str, Settings], users: UserService, settings: Settings
) -> None:
    first, second, throttled = replicas
    victim = (await make_user(users)).username
    for i in range(ADDRESS_LOCK):
        refusal(await login((first, second)[i % 2], f"guess-{secrets.token_hex(4)}", "wrong"))

    locked = refusal(await login(first, victim, PASSWORD))
    assert "too many failed logins" in locked["message"]
    # The count is in Redis, under the deployment's namespace.
    redis = Redis.from_url(settings.redis_url)
    try:
        keys = [
            k async for k in redis.scan_iter(f"{throttled.event_channel_prefix}:login:address:*")
        ]
        assert keys == [f"{throttled.event_channel_prefix}:login:address:127.0.0.1:locked".encode()]
        assert 0 < await redis.ttl(keys[0]) <= 2
    finally:
        await redis.aclose()
