"""`flowdesk`: run the API, a worker, the migrations, or the whole development stack."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import sys
import uuid
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from prometheus_client import start_http_server
from pydantic import SecretStr

from api.app import create_app
from api.auth.tokens import TokenIssuer, WeakSecret
from api.backup import BackupError, prepare_restore, take_base_backup
from api.db import create_engine, create_sessionmaker
from api.embedded import EmbeddedStack
from api.events import EventBus, connect_redis
from api.live.websocket import UVICORN_OPTIONS
from api.logs import configure_logging
from api.migrate import upgrade
from api.services.archive import BATCH, ArchiveService
from api.services.definitions import DefinitionService
from api.services.tasks import TaskService
from api.services.users import UserService
from api.settings import Settings
from api.task_queue_stats import watch_backlog
from api.temporal import connect_temporal
from engine.durations import parse_duration
from workers.actions import load_actions
from workers.relay import run_relay
from workers.worker import build_worker

log = logging.getLogger("flowdesk")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Every public host and every address, private and loopback included.
DEV_HTTP_ALLOW = ["*", "0.0.0.0/0", "::/0"]


async def serve_api(settings: Settings) -> None:
    app = create_app(settings)
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.host)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        **UVICORN_OPTIONS,
        # Our own handler formats every line (api/logs.py) and writes one per request.
        log_config=None,
        access_log=False,
        # The same limits as the app's own (api/edge.py), for what uvicorn reads itself.
        ws_max_size=settings.max_body_bytes,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    await uvicorn.Server(config).serve()


async def run_worker(settings: Settings) -> None:
    """Run workflows and activities, and the relay of completions that did not land."""
    engine = create_engine(settings)
    redis = await connect_redis(settings.redis_url)
    try:
        client = await connect_temporal(settings)
        sessions = create_sessionmaker(engine)
        bus = EventBus(redis, settings.event_channel_prefix)
        tasks = TaskService(sessions, client, bus, answer_within=settings.workflow_answer_seconds)
        if settings.worker_metrics_port is not None:
            # The worker serves no HTTP otherwise; its counters are scraped from here.
            start_http_server(settings.worker_metrics_port, addr=settings.host)
        async with (
            httpx.AsyncClient() as http,
            build_worker(client, settings, sessions, bus, load_actions(http, settings)),
        ):
            log.info("worker polling task queue %r", settings.task_queue)
            backlog = asyncio.create_task(
                watch_backlog(client, settings.task_queue, settings.task_queue_stats_seconds)
            )
            try:
                await run_relay(sessions, tasks, every=settings.outbox_retry_seconds)
            finally:
                backlog.cancel()
    finally:
        await redis.aclose()
        await engine.dispose()


async def bootstrap(settings: Settings, *, templates: Path = TEMPLATES) -> tuple[str, str | None]:
    """Migrate, make sure an admin exists, deploy the shipped templates (a template whose
    document did not change keeps its version).

    Returns the admin's username and, when this call made the admin with a generated
    password, that password."""
    await upgrade(settings.database_url)
    engine = create_engine(settings)
    try:
        sessions = create_sessionmaker(engine)
        users = UserService(sessions, TokenIssuer(settings))
        username = settings.admin_username or "admin"
        chosen = settings.admin_password.get_secret_value() if settings.admin_password else None
        password = chosen or secrets.token_urlsafe(12)
        admin, created = await users.ensure_admin(username, password)
        deployer = await users.principal(admin.id)
        definitions = DefinitionService(sessions)
        for document in read_templates(templates):
            await definitions.deploy(document, deployer)
        return username, (password if created and chosen is None else None)
    finally:
        await engine.dispose()


def read_templates(folder: Path = TEMPLATES) -> list[dict[str, object]]:
    return [orjson.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))]


def _dev_secret(home: Path) -> str:
    """The dev stack's JWT secret, kept in its home so tokens survive a restart."""
    path = home / "jwt-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


async def run_dev(settings: Settings) -> None:
    """The whole stack in one foreground process; Ctrl-C stops every part of it."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    stack = EmbeddedStack(home)
    try:
        urls = await stack.start()
        settings = settings.model_copy(
            update={
                "database_url": urls.database_url,
                "redis_url": urls.redis_url,
                "temporal_address": urls.temporal_address,
                "jwt_secret": SecretStr(_dev_secret(home)),
                "graphiql": True,
                "introspection": True,
                # Service tasks may call anything while developing (local stubs
                # included), unless FLOWDESK_HTTP_ALLOW says otherwise.
                "http_allow": settings.http_allow
                if "http_allow" in settings.model_fields_set
                else DEV_HTTP_ALLOW,
            }
        )
        username, password = await bootstrap(settings)
        print(
            f"Flowdesk is up: GraphiQL at http://{settings.host}:{settings.port}/graphql",
            flush=True,
        )
        if password is not None:
            print(f"Admin user created: {username} / {password} (shown once)", flush=True)
        else:
            print(f"Admin user: {username}", flush=True)
        worker = asyncio.create_task(run_worker(settings))
        try:
            await serve_api(settings)  # returns on Ctrl-C
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
    backup = commands.add_parser(
        "backup", help="take a base backup of the database server with pg_basebackup"
    )
    backup.add_argument("--to", type=Path, required=True, help="the folder of base backups")
    backup.add_argument("--pg-bin", type=Path, help="PostgreSQL's client tools (default: PATH)")
    restore = commands.add_parser(
        "restore", help="lay out a new data directory that recovers to a point in time"
    )
    restore.add_argument("--from", dest="backups", type=Path, required=True, help="base backups")
    restore.add_argument("--wal-archive", type=Path, required=True, help="the archived WAL")
    restore.add_argument("--data-dir", type=Path, required=True, help="a new, empty folder")
    restore.add_argument(
        "--target-time",
        type=datetime.fromisoformat,
        help="ISO 8601 with a time zone; default: all the archived WAL",
    )
    archive = commands.add_parser(
        "archive", help="move finished instances older than a given age to the archive"
    )
    archive.add_argument(
        "--older-than",
        type=age,
        required=True,
        help="ended at least this long ago: 90d, 12h, 30m or ISO 8601 (P90D)",
    )
    archive.add_argument("--definition", help="only instances of this definition key")
    archive.add_argument("--batch", type=int, default=BATCH, help="instances per transaction")
    unarchive = commands.add_parser(
        "restore-archive", help="put archived instances back into the live tables"
    )
    unarchive.add_argument("ids", nargs="+", type=uuid.UUID, help="instance ids (UUIDs)")
    return root


_SHORT_AGE = re.compile(r"(\d+)([dhm])")


def age(text: str) -> timedelta:
    if found := _SHORT_AGE.fullmatch(text):
        unit = {"d": "days", "h": "hours", "m": "minutes"}[found[2]]
        return timedelta(**{unit: int(found[1])})
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


async def archive_or_restore(settings: Settings, args: argparse.Namespace) -> None:
    engine = create_engine(settings)
    try:
        archive = ArchiveService(create_sessionmaker(engine))
        if args.command == "archive":
            cutoff = datetime.now(UTC) - args.older_than
            done = await archive.archive(cutoff, definition_key=args.definition, batch=args.batch)
            print(f"archived {done.archived} instances in {done.batches} batches")
            return
        restored = await archive.restore(args.ids)
        print(f"restored {len(restored)} of {len(args.ids)} instances")
        if len(restored) < len(args.ids):
            sys.exit("flowdesk restore-archive: some ids are not archived")
    finally:
        await engine.dispose()


def backup_or_restore(settings: Settings, args: argparse.Namespace) -> None:
    try:
        if args.command == "backup":
            taken = take_base_backup(settings.database_url, args.to, bin_dir=args.pg_bin)
            print(f"base backup {taken.path} (restores to any moment after {taken.finished_at})")
            return
        used = prepare_restore(args.backups, args.wal_archive, args.data_dir, args.target_time)
        print(f"{args.data_dir} holds {used.path.name}; start PostgreSQL on it to recover")
    except BackupError as error:
        sys.exit(f"flowdesk {args.command}: {error}")


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
    settings = Settings()
    # A person runs the dev stack: console lines, unless asked for JSON.
    readable = args.command == "dev" and "FLOWDESK_LOG_FORMAT" not in os.environ
    configure_logging(settings.log_level, "console" if readable else settings.log_format)
    try:
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
            case "backup" | "restore":
                backup_or_restore(settings, args)
            case "archive" | "restore-archive":
                asyncio.run(archive_or_restore(settings, args))
    except WeakSecret as exc:
        # Outside `flowdesk dev` (which makes its own), a known or short secret would let
        # anyone sign tokens: refuse to start, saying how to make one.
        sys.exit(f"flowdesk: {exc}")
    sys.exit(0)
