"""`python -m bench.serve ROLE`: a server process of a scenario, configured by FLOWDESK_*.

- api: the Flowdesk app (`api.app.create_app`) on uvicorn;
- raw: the hand-written inbox route (bench.raw_inbox) on the same uvicorn settings;
- worker: Flowdesk's worker as `flowdesk worker` runs it (workflows, activities, relay);
- bare: a worker of bench.bare's workflow, with Flowdesk's sandboxed workflow runner.

Prints READY once it serves or polls; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvicorn
from starlette.applications import Starlette

from api.settings import Settings


def uvicorn_config(app: Starlette, settings: Settings) -> uvicorn.Config:
    """The one uvicorn configuration both sides of the inbox comparison are served with."""
    from api.live.websocket import UVICORN_OPTIONS

    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
        **UVICORN_OPTIONS,
    )


async def serve_http(app: Starlette, settings: Settings) -> None:
    server = uvicorn.Server(uvicorn_config(app, settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.02)
    print("READY", flush=True)
    await task


async def run_flowdesk_worker(settings: Settings) -> None:
    import httpx

    from api.db import create_engine, create_sessionmaker
    from api.events import EventBus, connect_redis
    from api.services.tasks import TaskService
    from api.temporal import connect_temporal
    from workers.actions import load_actions
    from workers.relay import run_relay
    from workers.worker import build_worker

    # As api.cli.run_worker, plus the READY line.
    engine = create_engine(settings)
    redis = await connect_redis(settings.redis_url)
    try:
        client = await connect_temporal(settings)
        sessions = create_sessionmaker(engine)
        bus = EventBus(redis, settings.event_channel_prefix)
        tasks = TaskService(sessions, client, bus, answer_within=settings.workflow_answer_seconds)
        async with (
            httpx.AsyncClient() as http,
            build_worker(client, settings, sessions, bus, load_actions(http, settings)),
        ):
            print("READY", flush=True)
            await run_relay(sessions, tasks, every=settings.outbox_retry_seconds)
    finally:
        await redis.aclose()
        await engine.dispose()


async def run_bare_worker(settings: Settings) -> None:
    import asyncpg
    from temporalio import activity
    from temporalio.worker import Worker

    from api.heap import freeze_startup_objects
    from api.temporal import connect_temporal
    from bench import bare
    from bench.bare import INSERT_ROW, TABLE, BareWorkflow
    from bench.stack import asyncpg_dsn
    from workers.worker import cache_bytecode, workflow_runner

    # As build_worker does for Flowdesk's workflow module and process.
    cache_bytecode(bare)
    freeze_startup_objects()

    pool = await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url),
        min_size=1,
        max_size=settings.database_pool_size,
    )
    await pool.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id uuid PRIMARY KEY, at timestamptz NOT NULL)"
    )

    @activity.defn(name=INSERT_ROW)
    async def insert_row(row_id: str) -> None:
        await pool.execute(
            f"INSERT INTO {TABLE} (id, at) VALUES ($1, now()) ON CONFLICT DO NOTHING", row_id
        )

    try:
        client = await connect_temporal(settings)
        async with Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[BareWorkflow],
            activities=[insert_row],
            workflow_runner=workflow_runner(),
            max_cached_workflows=settings.worker_cached_workflows,
        ):
            print("READY", flush=True)
            await asyncio.Event().wait()
    finally:
        await pool.close()


async def main(role: str) -> None:
    settings = Settings()
    runners: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
        "api": lambda: serve_http(_api_app(settings), settings),
        "raw": lambda: serve_http(_raw_app(settings), settings),
        "worker": lambda: run_flowdesk_worker(settings),
        "bare": lambda: run_bare_worker(settings),
    }
    task: asyncio.Task[None] = asyncio.create_task(runners[role]())
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _api_app(settings: Settings) -> Starlette:
    from api.app import create_app

    return create_app(settings)


def _raw_app(settings: Settings) -> Starlette:
    from bench.raw_inbox import create_raw_app

    return create_raw_app(settings)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main(sys.argv[1]))
