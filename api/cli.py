"""`flowdesk`: run the API, a worker, the migrations, or the whole development stack."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client import start_http_server

from api import console
from api.app import create_app
from api.auth.tokens import WeakSecret
from api.backup import BackupError, prepare_restore, take_base_backup
from api.console import read_password
from api.db import create_engine, create_sessionmaker
from api.dev import DEV_DEFAULTS, banner, bootstrap, dev_settings, embedded_stack
from api.errors import FlowdeskError
from api.events import EventBus, connect_redis
from api.live.websocket import UVICORN_OPTIONS
from api.logs import configure_logging
from api.migrate import upgrade
from api.services.archive import BATCH, ArchiveService
from api.services.tasks import TaskService
from api.settings import Settings
from api.task_queue_stats import watch_backlog
from api.temporal import connect_temporal
from api.tracing import trace_statements, tracer_provider
from engine.durations import parse_duration
from engine.enums import InstanceStatus, TaskStatus
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
    await _ApiServer(config, listening).serve()


async def run_worker(settings: Settings) -> None:
    """Run workflows and activities, and the relay of completions that did not land."""
    engine = create_engine(settings)
    tracing = tracer_provider(settings, "flowdesk-worker")
    trace_statements(engine, tracing)
    redis = await connect_redis(settings.redis_url)
    try:
        client = await connect_temporal(settings, tracing=tracing)
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


# The settings each command reads, listed by its --help as FLOWDESK_* variables.
_DATABASE = (
    "database_url",
    "database_pool_size",
    "database_pre_ping",
    "database_pool_recycle_seconds",
)
_EVENTS = ("redis_url", "event_channel_prefix")
_TEMPORAL = ("temporal_address", "temporal_namespace", "task_queue")
_TOKENS = (
    "jwt_secret",
    "jwt_previous_secrets",
    "jwt_issuer",
    "jwt_audience",
    "jwt_ttl_seconds",
    "jwt_refresh_ttl_seconds",
)
_LOGS = ("log_level", "log_format", "otlp_endpoint")
_LOGIN = tuple(name for name in Settings.model_fields if name.startswith("login_"))
_LIMITS = ("max_query_depth", "max_body_bytes", "max_header_bytes", "max_json_depth")
_LIVE = (
    "live_queue_limit",
    "live_subscriptions_per_socket",
    "live_subscriptions_per_user",
    "ws_ping_seconds",
)
_EGRESS = ("http_allow", "http_max_redirects", "http_max_response_bytes", "http_max_seconds")
_API = (
    *_DATABASE,
    *_EVENTS,
    *_TEMPORAL,
    *_TOKENS,
    "principal_cache_seconds",
    "host",
    "port",
    "workflow_answer_seconds",
)
_API_EXTRA = (
    "graphiql",
    "introspection",
    "cors_origins",
    "metrics_port",
    *_LIMITS,
    *_LIVE,
    *_LOGIN,
)
_WORKER = (
    "outbox_retry_seconds",
    "worker_cached_workflows",
    "worker_metrics_port",
    "task_queue_stats_seconds",
    "workflow_answer_seconds",
    *_EGRESS,
)
# `flowdesk dev` runs both, on its own servers and secret.
_STACK_OWN = {"database_url", "redis_url", "temporal_address", "jwt_secret"}
# Every command logs (api/logs.py).
COMMAND_SETTINGS: dict[str, tuple[str, ...]] = {
    command: (*_LOGS, *names)
    for command, names in {
        "api": (*_API, *_API_EXTRA),
        "worker": (*_DATABASE, *_EVENTS, *_TEMPORAL, "host", *_WORKER),
        "migrate": ("database_url",),
        "dev": (
            "home",
            "admin_username",
            "admin_password",
            *(name for name in (*_API, *_API_EXTRA, *_WORKER) if name not in _STACK_OWN),
        ),
        "user add": ("database_url",),
        "deploy": ("database_url",),
        "instances": ("database_url",),
        "tasks": ("database_url",),
        "backup": ("database_url",),
        "restore": (),
        "archive": ("database_url",),
        "restore-archive": ("database_url",),
    }.items()
}


def environment_help(command: str) -> str:
    """The FLOWDESK_* variables `command` reads, with their defaults."""
    fields = Settings.model_fields
    rows: list[tuple[str, str]] = []
    for name in dict.fromkeys(COMMAND_SETTINGS[command]):
        default = fields[name].default
        if command == "dev":
            default = DEV_DEFAULTS.get(name, default)
        shown = "unset" if default is None else str(default)  # a SecretStr shows stars
        rows.append((f"FLOWDESK_{name.upper()}", shown))
    width = max(len(variable) for variable, _ in rows)
    lines = [f"  {variable:<{width}}  default: {shown}" for variable, shown in rows]
    return "environment variables:\n" + "\n".join(lines)


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str
) -> argparse.ArgumentParser:
    return commands.add_parser(
        name.split()[-1],
        help=summary,
        description=summary,
        epilog=environment_help(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _listing_options(
    command: argparse.ArgumentParser, what: str, statuses: type[InstanceStatus | TaskStatus]
) -> None:
    """The filters `instances` and `tasks` share."""
    command.add_argument(
        "--status",
        action="append",
        default=[],
        type=statuses,
        choices=list(statuses),
        help="only these statuses; repeatable",
    )
    command.add_argument("--key", help=f"only {what} of this definition key")
    command.add_argument("--limit", type=int, default=20, help="at most this many (20)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="flowdesk", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    _command(commands, "api", "serve the GraphQL API")
    _command(commands, "worker", "run a Temporal worker and the relay of pending completions")
    _command(commands, "migrate", "migrate the database to the newest schema")
    _command(
        commands,
        "dev",
        "embedded PostgreSQL, Redis and Temporal (the `dev` extra), the API and a worker",
    )
    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = _command(user, "user add", "create a user")
    add.add_argument("username")
    add.add_argument(
        "--password",
        help="the password; without it, read from a prompt on a terminal, else from the "
        "first line of stdin (a password given here stays in shell history and shows in ps)",
    )
    add.add_argument("--display-name")
    add.add_argument("--email")
    add.add_argument("--group", action="append", default=[], help="a group key; repeatable")
    add.add_argument("--admin", action="store_true", help="give the admin role")
    deploy = _command(
        commands,
        "deploy",
        "validate and deploy definitions (JSON, or BPMN 2.0 XML named *.bpmn or *.xml); "
        "prints every problem of those that are refused",
    )
    deploy.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="USERNAME",
        help="deploy as this user, with their rights (a new key becomes theirs)",
    )
    deploy.add_argument("files", nargs="+", type=Path, metavar="FILE")
    instances = _command(commands, "instances", "list process instances, newest first")
    _listing_options(instances, "instances", InstanceStatus)
    tasks = _command(
        commands, "tasks", "list open tasks, or the inbox of a user as GraphQL's tasks shows it"
    )
    tasks.add_argument("--user", help="the inbox of this username")
    _listing_options(tasks, "tasks", TaskStatus)
    backup = _command(
        commands, "backup", "take a base backup of the database server with pg_basebackup"
    )
    backup.add_argument("--to", type=Path, required=True, help="the folder of base backups")
    backup.add_argument("--pg-bin", type=Path, help="PostgreSQL's client tools (default: PATH)")
    restore = _command(
        commands, "restore", "lay out a new data directory that recovers to a point in time"
    )
    restore.add_argument("--from", dest="backups", type=Path, required=True, help="base backups")
    restore.add_argument("--wal-archive", type=Path, required=True, help="the archived WAL")
    restore.add_argument("--data-dir", type=Path, required=True, help="a new, empty folder")
    restore.add_argument(
        "--target-time",
        type=datetime.fromisoformat,
        help="ISO 8601 with a time zone; default: all the archived WAL",
    )
    archive = _command(
        commands, "archive", "move finished instances older than a given age to the archive"
    )
    archive.add_argument(
        "--older-than",
        type=age,
        required=True,
        help="ended at least this long ago: 90d, 12h, 30m or ISO 8601 (P90D)",
    )
    archive.add_argument("--definition", help="only instances of this definition key")
    archive.add_argument("--batch", type=int, default=BATCH, help="instances per transaction")
    unarchive = _command(
        commands, "restore-archive", "put archived instances back into the live tables"
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


async def on_the_data(args: argparse.Namespace, settings: Settings, password: str | None) -> bool:
    """Run a command that works on the data; False when it did not do all it was asked."""
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)
    try:
        match args.command:
            case "user":
                assert password is not None
                await console.add_user(
                    sessions,
                    settings,
                    args.username,
                    password,
                    display_name=args.display_name,
                    email=args.email,
                    groups=args.group,
                    admin=args.admin,
                )
            case "deploy":
                return await console.deploy(sessions, settings, args.files, as_user=args.as_user)
            case "instances":
                await console.list_instances(
                    sessions, settings, statuses=args.status, key=args.key, limit=args.limit
                )
            case "tasks":
                await console.list_tasks(
                    sessions,
                    settings,
                    username=args.user,
                    statuses=args.status,
                    key=args.key,
                    limit=args.limit,
                )
        return True
    finally:
        await engine.dispose()


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
            case "backup" | "restore":
                backup_or_restore(settings, args)
            case "archive" | "restore-archive":
                asyncio.run(archive_or_restore(settings, args))
            case "user" | "deploy" | "instances" | "tasks":
                try:
                    password = None
                    if args.command == "user":
                        password = args.password or read_password(sys.stdin)
                    done = asyncio.run(on_the_data(args, settings, password))
                except FlowdeskError as refused:
                    # A refusal is one line, as `flowdesk deploy` prints a definition's problems.
                    sys.exit(f"flowdesk {args.command}: {refused.message}")
                if not done:
                    sys.exit(1)
    except WeakSecret as exc:
        # Outside `flowdesk dev` (which makes its own), a known or short secret would let
        # anyone sign tokens: refuse to start, saying how to make one.
        sys.exit(f"flowdesk: {exc}")
    sys.exit(0)
