"""One Temporal dev server, one migrated database and one running app per test session.

PostgreSQL and Redis are the machine's (127.0.0.1:5432 and :6379) when they answer, else
embedded ones. Tests isolate themselves with fresh names and ids, not cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
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
from api.events import EventBus, connect_redis
from api.migrate import upgrade
from api.services.tasks import TaskService
from api.services.users import UserService
from api.settings import Settings
from api.temporal import connect_temporal
from tests.actions import ACTIONS
from tests.client import GraphQLClient
from tests.kit.http_stub import Stub, serve_stub
from tests.kit.people import make_user  # moved there; kept importable from here
from workers.actions import load_actions
from workers.worker import build_worker

LOCAL_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "manifests: checks of deploy/ files (schemas, linters), seconds, no services"
    )


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@contextlib.contextmanager
def embedded_home() -> Iterator[Path]:
    """A state directory for embedded services. Not under pytest's tmp_path: every pytest
    session resets /tmp/pytest-of-<user> to owner-only, which locks out the embedded
    PostgreSQL's own system user."""
    home = Path(tempfile.mkdtemp(prefix="flowdesk-test-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    with embedded_home() as home:
        yield home


@pytest.fixture(scope="session")
async def database_url(state_dir: Path) -> AsyncIterator[str]:
    name = f"flowdesk_test_{secrets.token_hex(4)}"
    if _answers(5432):
        url = await ensure_database(LOCAL_POSTGRES, name)
        await upgrade(url)
        yield url
        # The machine's server outlives the session: leave it as it was found.
        await drop_database(LOCAL_POSTGRES, name)
        return
    embedded = EmbeddedPostgres(state_dir)
    server_url = await embedded.start()
    try:
        url = await ensure_database(server_url, name)
        await upgrade(url)
        yield url
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
async def redis_url(state_dir: Path) -> AsyncIterator[str]:
    if _answers(6379):
        yield LOCAL_REDIS
        return
    embedded = EmbeddedRedis(state_dir)
    try:
        yield await embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
async def temporal_address() -> AsyncIterator[str]:
    server = TemporalDevServer(None)
    try:
        yield await server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, temporal_address: str) -> Settings:
    suffix = secrets.token_hex(4)
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        temporal_address=temporal_address,
        task_queue=f"flowdesk-test-{suffix}",
        event_channel_prefix=f"flowdesk-test-{suffix}",
        jwt_secret=secrets.token_urlsafe(32),
        port=free_port(),
        introspection=True,
        # The service-task tests call stub servers on this machine.
        http_allow=["127.0.0.1"],
    )


@pytest.fixture(scope="session")
async def sessions(settings: Settings) -> AsyncIterator[SessionMaker]:
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def temporal(settings: Settings) -> Client:
    return await connect_temporal(settings)


@contextlib.asynccontextmanager
async def run_worker(
    settings: Settings, sessions: SessionMaker, temporal: Client
) -> AsyncIterator[Worker]:
    redis = await connect_redis(settings.redis_url)
    try:
        bus = EventBus(redis, settings.event_channel_prefix)
        async with (
            httpx.AsyncClient() as http,
            build_worker(
                temporal, settings, sessions, bus, {**load_actions(http, settings), **ACTIONS}
            ) as worker,
        ):
            yield worker
    finally:
        await redis.aclose()


@contextlib.asynccontextmanager
async def serve_app(settings: Settings, **options: Any) -> AsyncIterator[str]:
    """The app (create_app with `options`) served by uvicorn on settings.port, as clients
    reach it."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, **options),
            host="127.0.0.1",
            port=settings.port,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def worker(
    settings: Settings, sessions: SessionMaker, temporal: Client
) -> AsyncIterator[Worker]:
    async with run_worker(settings, sessions, temporal) as worker:
        yield worker


@pytest.fixture(scope="session")
async def app_url(settings: Settings, worker: Worker) -> AsyncIterator[str]:
    async with serve_app(settings) as url:
        yield url


@pytest.fixture(scope="session")
async def users(settings: Settings, sessions: SessionMaker) -> UserService:
    return UserService(sessions, TokenIssuer(settings))


@pytest.fixture(scope="session")
async def task_service(
    settings: Settings, sessions: SessionMaker, temporal: Client
) -> AsyncIterator[TaskService]:
    redis = await connect_redis(settings.redis_url)
    yield TaskService(
        sessions,
        temporal,
        EventBus(redis, settings.event_channel_prefix),
        answer_within=settings.workflow_answer_seconds,
    )
    await redis.aclose()


@pytest.fixture
async def client(app_url: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=app_url, timeout=30) as http:
        yield GraphQLClient(http)


@pytest.fixture
def unique() -> Iterator[str]:
    """A fresh name, so that tests never see each other's keys, users and groups."""
    yield uuid.uuid4().hex[:10]


@pytest.fixture
def stub() -> Iterator[Stub]:
    """A local HTTP server for the `http` action (see tests.kit.http_stub)."""
    with serve_stub() as served:
        yield served


__all__ = ["make_user"]
