"""Each metric of /metrics moves when what it counts happens, read over HTTP as Prometheus
reads it: sockets and subscriptions, deliveries and publishes, instances per definition,
incidents and retries, the database pool, the task queue's backlog.

The app, the worker and the tests share one process here, so the API's /metrics also
shows what the worker counts; in production each process serves its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.db import SessionMaker, engine_of
from api.embedded import free_port
from api.services.users import UserService
from api.task_queue_stats import refresh_backlog
from bench.ws import subscribe
from tests.client import GraphQLClient
from tests.conftest import make_user
from tests.factories import complete, deploy, one_task, process, start, task
from tests.test_live_delivery import TASK_EVENTS, heard
from tests.test_subscriptions import ws_url

INSTANCE_EVENTS = "subscription($id: ID!) { instanceEvents(id: $id) { seq type } }"
CANCEL = 'mutation($id: ID!) { cancelInstance(id: $id, reason: "no") { status } }'

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def until_metric(url: str, check: Callable[[Samples], bool], within: float = 10.0) -> Samples:
    """The first scrape for which `check` holds (a socket's end is seen by the server a
    moment after the client closed it)."""
    async with asyncio.timeout(within):
        while True:
            samples = await scrape(url)
            if check(samples):
                return samples
            await asyncio.sleep(0.05)


async def test_sockets_and_subscriptions_are_gauged_and_deliveries_timed(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    as_user = await client.login((await make_user(users, groups=[group])).username)
    key = (await deploy(as_user, one_task(group=group)))["key"]
    before = await scrape(app_url)
    sockets = value(before, "flowdesk_websockets_open")
    tasks = value(before, "flowdesk_subscriptions_open", kind="task")

    async with subscribe(ws_url(app_url), TASK_EVENTS, as_user.token) as sub:
        await until_metric(
            app_url,
            lambda m: value(m, "flowdesk_subscriptions_open", kind="task") == tasks + 1,
        )
        started = await start(as_user, key)
        assert (await heard(sub))["type"] == "TASK_CREATED"
        during = await scrape(app_url)
        assert value(during, "flowdesk_websockets_open") == sockets + 1
        delivered = "flowdesk_event_delivery_lag_seconds_count"
        assert value(during, delivered, kind="task") > value(before, delivered, kind="task")
        published = "flowdesk_event_publish_lag_seconds_count"
        assert value(during, published) > value(before, published)

        instances = value(during, "flowdesk_subscriptions_open", kind="instance")
        async with subscribe(
            ws_url(app_url), INSTANCE_EVENTS, as_user.token, {"id": started["id"]}
        ):
            await until_metric(
                app_url,
                lambda m: (
                    value(m, "flowdesk_subscriptions_open", kind="instance") == instances + 1
                    and value(m, "flowdesk_websockets_open") == sockets + 2
                ),
            )

    await until_metric(
        app_url,
        lambda m: (
            value(m, "flowdesk_websockets_open") == sockets
            and value(m, "flowdesk_subscriptions_open", kind="task") == tasks
            and value(m, "flowdesk_subscriptions_open", kind="instance") == instances
        ),
    )


async def test_instances_are_counted_per_definition_as_they_start_and_end(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    as_user = await client.login((await make_user(users, groups=[group])).username)
    key = (await deploy(as_user, one_task(group=group)))["key"]

    done = await start(as_user, key)
    await complete(as_user, done["tasks"][0]["id"])
    cancelled = await start(as_user, key)
    await as_user.execute(CANCEL, {"id": cancelled["id"]})
    await start(as_user, key)  # still running

    samples = await until_metric(
        app_url,
        lambda m: (
            value(m, "flowdesk_instances_ended_total", definition=key, status="CANCELLED") == 1
        ),
    )
    assert value(samples, "flowdesk_instances_started_total", definition=key) == 3
    assert value(samples, "flowdesk_instances_ended_total", definition=key, status="COMPLETED") == 1
    durations = "flowdesk_instance_duration_seconds_count"
    assert value(samples, durations, definition=key, status="COMPLETED") == 1
    assert value(samples, durations, definition=key, status="CANCELLED") == 1
    assert value(samples, "flowdesk_incidents_total", definition=key) == 0


async def test_incidents_and_activity_retries_are_counted(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    as_user = await client.login((await make_user(users, groups=[group])).username)
    # A gateway with no way out: an incident on the first step.
    stuck = process(
        "stuck",
        [{"id": "decide", "type": "exclusiveGateway"}, task("big", group)],
        [
            ("start", "decide"),
            {"from": "decide", "to": "big", "condition": "amount > 100"},
            ("big", "end"),
        ],
    )
    await deploy(as_user, stuck)
    # An HTTP call to a port nobody listens on: tried twice, then an incident.
    refused = process(
        "refused",
        [
            {
                "id": "call",
                "type": "serviceTask",
                "action": "http",
                "input": {"method": "POST", "url": f"http://127.0.0.1:{free_port()}/x"},
                "retry": {"maxAttempts": 2, "initialInterval": "PT0.1S", "backoff": 1.0},
            }
        ],
        [("start", "call"), ("call", "end")],
    )
    await deploy(as_user, refused)
    retries = ("flowdesk_activity_retries_total", "run_action")
    before = value(await scrape(app_url), retries[0], activity=retries[1], action="http")

    assert (await start(as_user, stuck["key"], amount=1))["status"] == "INCIDENT"
    await start(as_user, refused["key"])
    samples = await until_metric(
        app_url, lambda m: value(m, "flowdesk_incidents_total", definition=refused["key"]) == 1
    )
    assert value(samples, "flowdesk_incidents_total", definition=stuck["key"]) == 1
    assert value(samples, retries[0], activity=retries[1], action="http") == before + 1
    assert value(samples, "flowdesk_instances_started_total", definition=refused["key"]) == 1


async def test_the_database_pool_is_read_when_scraped(sessions: SessionMaker, app_url: str) -> None:
    before = await scrape(app_url)
    assert value(before, "flowdesk_db_pool_size") >= 10
    assert value(before, "flowdesk_db_pool_max_connections") >= 2 * value(
        before, "flowdesk_db_pool_size"
    )
    async with engine_of(sessions).connect() as held:
        await held.exec_driver_sql("select 1")
        during = await scrape(app_url)
    after = await scrape(app_url)
    in_use = "flowdesk_db_pool_checked_out"
    assert value(during, in_use) == value(before, in_use) + 1
    assert value(after, in_use) == value(before, in_use)
    assert value(after, "flowdesk_db_pool_idle") >= 1


async def test_the_task_queue_backlog_is_what_temporal_reports(
    temporal: Client, app_url: str
) -> None:
    # A queue no worker polls: what is started there waits.
    queue = f"unpolled-{uuid.uuid4().hex[:8]}"
    assert await refresh_backlog(temporal, queue)
    empty = await scrape(app_url)
    assert value(empty, "flowdesk_task_queue_backlog", task_queue=queue, type="workflow") == 0
    await temporal.start_workflow("Nothing", id=f"waits-{queue}", task_queue=queue)

    async def backlogged() -> Samples:
        while True:
            await refresh_backlog(temporal, queue)
            samples = await scrape(app_url)
            if value(samples, "flowdesk_task_queue_backlog", task_queue=queue, type="workflow"):
                return samples
            await asyncio.sleep(0.2)

    samples = await asyncio.wait_for(backlogged(), 20)
    assert value(samples, "flowdesk_task_queue_backlog", task_queue=queue, type="workflow") == 1
    assert value(samples, "flowdesk_task_queue_backlog", task_queue=queue, type="activity") == 0
    await temporal.get_workflow_handle(f"waits-{queue}").terminate()
