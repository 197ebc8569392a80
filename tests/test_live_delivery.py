"""Live delivery costs per event, not per subscriber: one Redis connection and one reader
per API process, shared by all its subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.asyncio import Redis

from api.services.users import UserService
from api.settings import Settings
from bench.statements import counting_statements
from bench.ws import Subscription, subscribe
from tests.client import GraphQLClient
from tests.factories import claim, deploy, one_task, start
from tests.kit.operations import UNCLAIM
from tests.kit.people import as_user, make_user
from tests.kit.waiting import eventually
from tests.test_subscriptions import ws_url

# Scalars of the task only: its relations (assignee, instance) go through each socket's
# own DataLoaders, which is a statement per subscriber that selects them.
TASK_EVENTS = """subscription($since: String) {
  taskEvents(since: $since) { type cursor task { id status } }
}"""


async def heard(sub: Subscription) -> dict[str, Any]:
    async with asyncio.timeout(15):
        payload = await sub.next()
    assert not payload.get("errors"), payload
    event: dict[str, Any] = payload["data"]["taskEvents"]
    return event


async def app_connections(redis: Redis, settings: Settings) -> int:
    name = f"{settings.event_channel_prefix}:api"
    return sum(1 for c in await redis.client_list() if c.get("name") == name)


async def test_the_app_keeps_one_redis_connection_for_all_its_subscriptions(
    client: GraphQLClient, users: UserService, app_url: str, settings: Settings, unique: str
) -> None:
    groups = [f"g{i}-{unique}" for i in range(12)]
    people = [await make_user(users, groups=[group]) for group in groups]
    logins = [await client.login(p.username) for p in people]
    keys = [
        (await deploy(as_, one_task(group=g)))["key"] for as_, g in zip(logins, groups, strict=True)
    ]
    redis = Redis.from_url(settings.redis_url)
    try:
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(
                subscribe(ws_url(app_url), TASK_EVENTS, logins[0].token)
            )
            await start(logins[0], keys[0])
            assert (await heard(first))["type"] == "TASK_CREATED"
            with_one = await app_connections(redis, settings)

            subs = [first]
            for as_ in logins[1:]:
                subs.append(
                    await stack.enter_async_context(
                        subscribe(ws_url(app_url), TASK_EVENTS, as_.token)
                    )
                )
            for as_, key, sub in zip(logins[1:], keys[1:], subs[1:], strict=True):
                await start(as_, key)
                assert (await heard(sub))["type"] == "TASK_CREATED"
            assert await app_connections(redis, settings) <= with_one
            # Each group's channel is subscribed once, by the app's one connection.
            numsub = dict(
                await redis.pubsub_numsub(
                    *(f"{settings.event_channel_prefix}:group:{g}" for g in groups)
                )
            )
            assert set(numsub.values()) == {1}

        # The last subscriber of a channel gone, the app unsubscribes from it.
        channel = f"{settings.event_channel_prefix}:group:{groups[0]}"

        async def unsubscribed() -> bool:
            return dict(await redis.pubsub_numsub(channel))[channel.encode()] == 0

        await eventually(unsubscribed, what="the app to leave its Redis channels")
    finally:
        await redis.aclose()


async def test_statements_per_delivered_event_do_not_grow_with_subscribers(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    actor = await as_user(client, users, groups=[group])
    key = (await deploy(actor, one_task(group=group)))["key"]
    task_id = (await start(actor, key))["tasks"][0]["id"]
    members = [await as_user(client, users, groups=[group]) for _ in range(20)]

    async def statements_for_one_change(subscribers: list[GraphQLClient]) -> int:
        async with contextlib.AsyncExitStack() as stack:
            subs = [
                await stack.enter_async_context(subscribe(ws_url(app_url), TASK_EVENTS, m.token))
                for m in subscribers
            ]
            # Every subscription is live: each hears a first change.
            await claim(actor, task_id)
            for sub in subs:
                assert (await heard(sub))["type"] == "TASK_CLAIMED"
            with counting_statements() as statements:
                await actor.execute(UNCLAIM, {"id": task_id})
                for sub in subs:
                    assert (await heard(sub))["type"] == "TASK_UNCLAIMED"
        return len(statements)

    one = await statements_for_one_change(members[:1])
    twenty = await statements_for_one_change(members)
    # The same change, read once for everyone. A timed read (the idle poll, or a re-read
    # of a row held back by a concurrent transaction) may fall in either window.
    assert twenty <= one + 2, (one, twenty)


async def test_a_subscriber_resuming_from_an_old_cursor_joins_the_live_stream_without_gap_or_repeat(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    actor = await as_user(client, users, groups=[group])
    resumer = await as_user(client, users, groups=[group])
    key = (await deploy(actor, one_task(group=group)))["key"]
    task_id = (await start(actor, key))["tasks"][0]["id"]

    async def claim_and_unclaim(times: int) -> None:
        for _ in range(times):
            await claim(actor, task_id)
            await actor.execute(UNCLAIM, {"id": task_id})

    # A witness hears everything from the start, and keeps the shared reader going.
    async with subscribe(ws_url(app_url), TASK_EVENTS, actor.token) as witness:
        await claim_and_unclaim(3)
        seen: list[dict[str, Any]] = []
        while len(seen) < 6:
            # Skipping the task's creation, which it hears if that committed after a
            # transaction still running when it subscribed.
            if (e := await heard(witness))["type"] != "TASK_CREATED":
                seen.append(e)
        since = seen[0]["cursor"]

        # Changes go on while the resumer catches up from `since` and joins.
        producing = asyncio.create_task(claim_and_unclaim(10))
        await asyncio.sleep(0.05)
        async with subscribe(ws_url(app_url), TASK_EVENTS, resumer.token, {"since": since}) as sub:
            await producing
            seen += [await heard(witness) for _ in range(20)]
            caught = [await heard(sub) for _ in range(len(seen) - 1)]
            # Nothing more than that: the next thing it hears is the next change.
            await claim(actor, task_id)
            after = await heard(sub)
            assert after == await heard(witness)

    assert [e["cursor"] for e in caught] == [e["cursor"] for e in seen[1:]]
    assert after["type"] == "TASK_CLAIMED"
