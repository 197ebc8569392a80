"""The services a scenario runs against, wired as tests/conftest.py wires them.

PostgreSQL (127.0.0.1:5432, a fresh database per run) and Redis (127.0.0.1:6379) are the
machine's when they answer, else embedded ones; the Temporal dev server is started here, in
memory or on a SQLite file with the WAL pragmas (DESIGN.md: say which). The API, the raw
comparison server and the workers run as child processes, as in production, so the bench's
own clients do not share their interpreter; their output goes to log files in the stack's home.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

import asyncpg
import psutil
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker, create_engine, create_sessionmaker
from api.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    TemporalDevServer,
    drop_database,
    ensure_database,
    free_port,
)
from api.migrate import upgrade
from api.services.users import UserService
from api.settings import Settings

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parent.parent

TemporalMode = Literal["memory", "wal"]
Role = Literal["api", "raw", "worker", "bare"]


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    username: str
    token: str


class Child:
    """A server process of ours (`python -m bench.serve ROLE`), stopped by its own pid."""

    def __init__(self, role: Role, env: dict[str, str], log: Path) -> None:
        self.role = role
        self.log_path = log
        self._log: IO[bytes] = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", role],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ps = psutil.Process(self.process.pid)

    def rss_mib(self) -> float:
        rss: int = self.ps.memory_info().rss
        return rss / 2**20

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until the child prints READY (bench.serve does once it serves or polls)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.role} exited: {self.tail()}")
            if b"READY" in self.log_path.read_bytes():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.role} not ready within {within}s: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_bytes()[-3000:].decode(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class Stack:
    """`async with Stack(temporal="memory") as stack:` a fresh database, Redis, Temporal."""

    def __init__(self, *, temporal: TemporalMode = "memory", keep: bool = False) -> None:
        self.mode: TemporalMode = temporal
        self.keep = keep
        self.home = Path(tempfile.mkdtemp(prefix="flowdesk-bench-"))
        self._postgres: EmbeddedPostgres | None = None
        self._redis: EmbeddedRedis | None = None
        self._temporal: TemporalDevServer | None = None
        self._children: list[Child] = []
        self._started = 0
        self._server_url = LOCAL_POSTGRES
        self.database = f"flowdesk_bench_{secrets.token_hex(4)}"
        self.settings = Settings()
        self.sessions: SessionMaker | None = None
        self._engine: AsyncEngine | None = None

    @property
    def setting(self) -> dict[str, str]:
        """How the scenario ran, for its output."""
        temporal = (
            "dev server in memory"
            if self.mode == "memory"
            else "dev server on a SQLite file, journal_mode=wal synchronous=off"
        )
        return {
            "temporal": temporal,
            "postgres": "local 127.0.0.1:5432" if self._postgres is None else "embedded",
            "redis": "local 127.0.0.1:6379" if self._redis is None else "embedded",
            "workflow runner": "SandboxedWorkflowRunner (workers.worker.workflow_runner)",
        }

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start(self) -> None:
        if not _answers(5432):
            self._postgres = EmbeddedPostgres(self.home)
            self._server_url = await self._postgres.start()
        database_url = await ensure_database(self._server_url, self.database)
        await upgrade(database_url)
        redis_url = LOCAL_REDIS
        if not _answers(6379):
            self._redis = EmbeddedRedis(self.home)
            redis_url = await self._redis.start()
        if self.mode == "memory":
            self._temporal = TemporalDevServer(None)
        else:
            self._temporal = TemporalDevServer(self.home / "temporal", fast=True)
        temporal_address = await self._temporal.start()
        suffix = secrets.token_hex(4)
        self.settings = Settings(
            database_url=database_url,
            redis_url=redis_url,
            temporal_address=temporal_address,
            task_queue=f"flowdesk-bench-{suffix}",
            event_channel_prefix=f"flowdesk-bench-{suffix}",
            jwt_secret=SecretStr(secrets.token_urlsafe(32)),
            port=free_port(),
        )
        engine = create_engine(self.settings)
        self._engine = engine
        self.sessions = create_sessionmaker(engine)

    def env(self, **settings: object) -> dict[str, str]:
        """The environment of a child process: FLOWDESK_* from our settings, plus overrides."""
        values = {
            "database_url": self.settings.database_url,
            "redis_url": self.settings.redis_url,
            "temporal_address": self.settings.temporal_address,
            "task_queue": self.settings.task_queue,
            "event_channel_prefix": self.settings.event_channel_prefix,
            "jwt_secret": _secret(self.settings),
            "port": self.settings.port,
            "worker_cached_workflows": self.settings.worker_cached_workflows,
            **settings,
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDESK_")}
        env.update({f"FLOWDESK_{k.upper()}": str(v) for k, v in values.items()})
        return env

    async def start(self, role: Role, **settings: object) -> Child:
        self._started += 1
        child = Child(role, self.env(**settings), self.home / f"{role}-{self._started}.log")
        self._children.append(child)
        await child.wait_ready()
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        self._children.remove(child)

    async def person(self, *, groups: list[str] | None = None, admin: bool = False) -> Person:
        assert self.sessions is not None
        tokens = TokenIssuer(self.settings)
        users = UserService(self.sessions, tokens)
        row = await users.create_user(
            f"bench-{uuid.uuid4().hex[:10]}",
            PASSWORD,
            display_name="Bench User",
            groups=groups or [],
            roles=["admin"] if admin else [],
        )
        return Person(row.id, row.username, tokens.issue(row.id, row.username))

    async def sql(self, *statements: str) -> None:
        """Run statements on the bench database, each in its own transaction."""
        connection = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def fetchval(self, query: str) -> object:
        connection = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
        try:
            return await connection.fetchval(query)
        finally:
            await connection.close()

    async def close(self) -> None:
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        if self._engine is not None:
            await self._engine.dispose()
        if self._temporal is not None:
            self._temporal.stop()
        if not self.keep:
            with contextlib.suppress(Exception):
                await drop_database(self._server_url, self.database)
        if self._redis is not None:
            self._redis.stop()
        if self._postgres is not None:
            self._postgres.stop()
        if not self.keep:
            shutil.rmtree(self.home, ignore_errors=True)
        else:
            print(f"  kept: database {self.database}, logs in {self.home}")


def _secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None, "the bench's settings carry a secret"
    return settings.jwt_secret.get_secret_value()
