"""With Temporal away, or no worker running, a caller waits a bounded time
(workflow_answer_seconds) and is told what is true: the completion is recorded and the
task COMPLETING (it turns COMPLETED once delivered, and its subscribers hear it), the
instance started and waiting for a worker."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from sqlmodel import select
from temporalio.client import Client

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.embedded import free_port
from api.events import EventBus, connect_redis
from api.models import PendingCompletion, ProcessInstance
from api.services.tasks import TaskService
from api.services.users import UserService
from api.settings import Settings
from bench.ws import subscribe
from engine.enums import InstanceStatus
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.conftest import run_worker, serve_app
from tests.factories import deploy, instance, one_task, start
from tests.kit.operations import COMPLETE, START, SUSPEND, TASK
from tests.kit.people import make_user
from tests.kit.waiting import eventually
from tests.tcp_proxy import tcp_proxy
from workers.relay import resend_pending

TASK_EVENTS = "subscription { taskEvents { type task { id status } } }"
ANSWER_WITHIN = 1.0


def own_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(
        update={"port": free_port(), "workflow_answer_seconds": ANSWER_WITHIN, **changes}
    )


@asynccontextmanager
async def caller_of(
    settings: Settings, users: UserService, group: str
) -> AsyncIterator[tuple[str, GraphQLClient]]:
    """The app served with `settings`, and a client of it in `group`: (url, client)."""
    user = await make_user(users, groups=[group])
    token = TokenIssuer(settings).issue(user.id, user.username)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        yield url, GraphQLClient(http, token)


async def relay_once(settings: Settings, sessions: SessionMaker, temporal: Client) -> int:
    """One pass of the worker's completion relay."""
    redis = await connect_redis(settings.redis_url)
    try:
        tasks = TaskService(
            sessions,
            temporal,
            EventBus(redis, settings.event_channel_prefix),
            answer_within=settings.workflow_answer_seconds,
        )
        return await resend_pending(sessions, tasks, older_than=timedelta(0))
    finally:
        await redis.aclose()


async def status_of(caller: GraphQLClient, task_id: str) -> str:
    status: str = (await caller.execute(TASK, {"id": task_id}))["task"]["status"]
    return status


async def test_completing_while_temporal_is_away_answers_completing_then_completes(
    settings: Settings, sessions: SessionMaker, users: UserService, temporal: Client, worker: object
) -> None:
    group = f"away-{secrets.token_hex(4)}"
    async with tcp_proxy(settings.temporal_address) as proxy:
        own = own_settings(settings, temporal_address=proxy.address)
        async with caller_of(own, users, group) as (url, caller):
            definition = await deploy(caller, one_task(group=group))
            started = await start(caller, definition["key"])
            [task] = started["tasks"]
            ws = url.replace("http://", "ws://") + "/graphql"
            async with subscribe(ws, TASK_EVENTS, caller.token) as events:
                await proxy.cut()

                answered = await caller.raw(COMPLETE, {"id": task["id"], "v": {"ok": True}})
                # Told the truth, with no error: recorded, not yet applied.
                assert "errors" not in answered, answered
                assert answered["data"]["completeTask"]["status"] == "COMPLETING"
                # A retry of the caller's own recorded completion is answered the same.
                retried = await caller.raw(COMPLETE, {"id": task["id"], "v": {"ok": True}})
                assert "errors" not in retried, retried
                assert retried["data"]["completeTask"]["status"] == "COMPLETING"
                assert await status_of(caller, task["id"]) == "COMPLETING"
                # What is not recorded anywhere is neither claimed done nor failed.
                for refused in (
                    await caller.raw(SUSPEND, {"id": started["id"]}),
                    await caller.raw(START, {"k": definition["key"]}),
                ):
                    assert [e["extensions"]["code"] for e in refused["errors"]] == [
                        "UNAVAILABLE"
                    ], refused

                # The worker's relay, which reaches Temporal, applies it.
                assert await relay_once(settings, sessions, temporal) >= 1
                completed = await events.until(
                    lambda data: data["taskEvents"]["type"] == "TASK_COMPLETED"
                )
            assert completed["data"]["taskEvents"]["task"] == {
                "id": task["id"],
                "status": "COMPLETED",
            }
            assert await status_of(caller, task["id"]) == "COMPLETED"
    async with sessions() as session:
        rows = await session.exec(
            select(ProcessInstance).where(
                ProcessInstance.definition_id == decode_id(definition["id"], "ProcessDefinition")
            )
        )
        assert [row.status for row in rows] == [InstanceStatus.COMPLETED]


async def test_without_a_worker_start_and_complete_answer_in_bounded_time(
    settings: Settings, sessions: SessionMaker, users: UserService, temporal: Client
) -> None:
    # Its own task queue, on which no worker runs until this test starts one.
    own = own_settings(settings, task_queue=f"no-worker-{secrets.token_hex(4)}")
    group = f"no-worker-{secrets.token_hex(4)}"
    async with caller_of(own, users, group) as (url, caller):
        definition = await deploy(caller, one_task(group=group))

        started = await start(caller, definition["key"], amount=3)
        # Started and waiting for a worker: no step written yet, so no task yet.
        assert started["status"] == "RUNNING"
        assert started["tasks"] == []
        assert started["variables"] == {"amount": 3}

        async with run_worker(own, sessions, temporal):
            task = await first_task(caller, started["id"])
        # The worker is gone again: the completion is recorded and waits for one.
        answered = await caller.raw(COMPLETE, {"id": task["id"], "v": {"ok": True}})
        assert "errors" not in answered, answered
        assert answered["data"]["completeTask"]["status"] == "COMPLETING"
        async with sessions() as session:
            pending = await session.exec(
                select(PendingCompletion).where(
                    PendingCompletion.task_id == decode_id(task["id"], "Task")
                )
            )
            assert pending.one().variables == {"ok": True}

        ws = url.replace("http://", "ws://") + "/graphql"
        async with (
            subscribe(ws, TASK_EVENTS, caller.token) as events,
            run_worker(own, sessions, temporal),
        ):
            await relay_once(own, sessions, temporal)
            completed = await events.until(
                lambda data: data["taskEvents"]["type"] == "TASK_COMPLETED"
            )
            assert completed["data"]["taskEvents"]["task"]["status"] == "COMPLETED"
            done = await instance(caller, started["id"])
        assert done["status"] == "COMPLETED"
        assert done["variables"] == {"amount": 3, "ok": True}


async def first_task(caller: GraphQLClient, instance_id: str) -> dict[str, str]:
    """The instance's first task, once a worker has written its first step."""

    async def tasks() -> list[dict[str, str]]:
        found = await caller.raw(
            "query($id: ID!) { processInstance(id: $id) { tasks { id status } } }",
            {"id": instance_id},
        )
        listed: list[dict[str, str]] = ((found.get("data") or {}).get("processInstance") or {}).get(
            "tasks"
        ) or []
        return listed

    return (await eventually(tasks, what="the instance's first task"))[0]
