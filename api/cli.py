"""`flowdesk`: run the API, a worker, the migrations, or the whole development stack."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import httpx
import uvicorn
from prometheus_client import start_http_server

from api.app import create_app
from api.auth.tokens import TokenIssuer
from api.db import create_engine, create_sessionmaker
from api.dev import banner, bootstrap, dev_settings, embedded_stack
from api.events import EventBus, connect_redis
from api.migrate import upgrade
from api.services.tasks import TaskService
from api.services.users import UserService
from api.settings import Settings
from api.temporal import connect_temporal
from workers.actions import load_actions
from workers.relay import run_relay
from workers.worker import build_worker

log = logging.getLogger("flowdesk")


class _ApiServer(uvicorn.Server):
    """uvicorn, calling `listening` once the app has started and its socket is bound."""

    def __init__(self, config: uvicorn.Config, listening: Callable[[], None]) -> None:
        super().__init__(config)
        self._listening = listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:  # a Ctrl-C during the startup
            self._listening()


async def serve_api(settings: Settings, *, listening: Callable[[], None] = lambda: None) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        lifespan="on",
    )
    await _ApiServer(config, listening).serve()


async def run_worker(settings: Settings) -> None:
    """Run workflows and activities, and the relay of completions that did not land."""
    engine = create_engine(settings)
    redis = await connect_redis(settings.redis_url)
    try:
        client = await connect_temporal(settings)
        sessions = create_sessionmaker(engine)
        bus = EventBus(redis, settings.event_channel_prefix)
        tasks = TaskService(sessions, client, bus)
        if settings.worker_metrics_port is not None:
            # The worker serves no HTTP otherwise; its counters are scraped from here.
            start_http_server(settings.worker_metrics_port, addr=settings.host)
        async with (
            httpx.AsyncClient() as http,
            build_worker(client, settings, sessions, bus, load_actions(http)),
        ):
            log.info("worker polling task queue %r", settings.task_queue)
            await run_relay(sessions, tasks, every=settings.outbox_retry_seconds)
    finally:
        await redis.aclose()
        await engine.dispose()


async def run_dev(settings: Settings) -> None:
    """The whole stack in one foreground process; Ctrl-C stops every part of it."""
    home = settings.home.resolve()
    stack = embedded_stack(home)
    home.mkdir(parents=True, exist_ok=True)
    # Its INFO lines carry initdb's whole output, which would bury the banner.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        urls = await stack.start()
        settings = dev_settings(settings, urls, home)
        first_run = await bootstrap(settings, home)
        worker = asyncio.create_task(run_worker(settings))
        try:
            await serve_api(  # returns on Ctrl-C
                settings,
                listening=lambda: print(banner(settings, urls, first_run, home), flush=True),
            )
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
    finally:
        stack.stop()


async def add_user(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_engine(settings)
    try:
        users = UserService(create_sessionmaker(engine), TokenIssuer(settings))
        user = await users.create_user(
            args.username,
            args.password,
            display_name=args.display_name,
            email=args.email,
            groups=args.group,
            roles=["admin"] if args.admin else [],
        )
        print(f"created user {user.username} ({user.id})")
    finally:
        await engine.dispose()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="flowdesk", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("api", help="serve the GraphQL API")
    commands.add_parser("worker", help="run a Temporal worker")
    commands.add_parser("migrate", help="migrate the database to the newest schema")
    commands.add_parser("dev", help="embedded PostgreSQL, Redis and Temporal, the API and a worker")
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--password", required=True)
    add.add_argument("--display-name")
    add.add_argument("--email")
    add.add_argument("--group", action="append", default=[], help="a group key; repeatable")
    add.add_argument("--admin", action="store_true", help="give the admin role")
    return root


async def until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until SIGTERM (what Docker and Kubernetes send) or SIGINT, then let it
    wind down: a worker finishes what it holds and leaves its task queue cleanly."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("FLOWDESK_LOG_LEVEL", "INFO"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    settings = Settings()
    match args.command:
        case "api":
            asyncio.run(serve_api(settings))
        case "worker":
            asyncio.run(until_stopped(run_worker(settings)))
        case "migrate":
            asyncio.run(upgrade(settings.database_url))
        case "dev":
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(run_dev(settings))
        case "user":
            asyncio.run(add_user(settings, args))
    sys.exit(0)
