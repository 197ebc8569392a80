"""The embedded services of `flowdesk dev`: real processes, no mocks."""

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.api.workflowservice.v1 import ListNamespacesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from api.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedStack,
    StackUrls,
    TemporalDevServer,
    ensure_database,
    free_port,
    temporal_binary,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_child_left() -> Iterator[None]:
    """Every process a test started is gone after it (the session's own services, started
    before it, stay)."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert left == []


@pytest.fixture
def home() -> Iterator[Path]:
    """Not tmp_path: as root, postgres runs as the `pgserver` user, and any pytest session that
    starts meanwhile on this machine resets /tmp/pytest-of-root to 0700, locking that user out."""
    path = Path(tempfile.mkdtemp(prefix="flowdesk-embedded-"))
    yield path
    shutil.rmtree(path)


def dsn(url: str) -> str:
    """asyncpg takes the SQLAlchemy URL without its driver suffix."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def running(pid: int) -> bool:
    """Zombies do not count: init reaps the orphans of a stopped server when it gets to it."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def postmaster_pid(home: Path) -> int:
    return int((home / "pg" / "postmaster.pid").read_text().split()[0])


async def test_free_port_is_bindable_and_temporal_is_found() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
    binary = temporal_binary()
    assert os.access(binary, os.X_OK)
    assert binary.parent == Path(sys.executable).parent


async def test_temporal_in_memory_answers_then_stops() -> None:
    async with TemporalDevServer(None, namespace="flowdesk-test") as server:
        client = await Client.connect(server.address, namespace="flowdesk-test")
        assert await client.service_client.check_health()
        listed = await client.workflow_service.list_namespaces(ListNamespacesRequest())
        names = {namespace.namespace_info.name for namespace in listed.namespaces}
        assert {"default", "flowdesk-test"} <= names
    with pytest.raises(RuntimeError, match="connect"):
        await Client.connect(server.address)


async def test_temporal_fast_mode_puts_the_file_in_wal(home: Path) -> None:
    async with TemporalDevServer(home, fast=True):
        assert (home / "temporal.db-wal").exists()


async def test_temporal_that_dies_reports_its_log(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = TemporalDevServer(home, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match=r"temporal\.log(.|\n)*address already in use"):
            await server.start()


async def test_redis_over_a_unix_socket_keeps_its_data(home: Path) -> None:
    async with EmbeddedRedis(home) as server:
        assert server.url == f"unix://{home}/redis/redis.sock"
        client = aioredis.from_url(server.url)
        await client.set("greeting", "hello")
        await client.aclose()
    with pytest.raises(RedisConnectionError):
        await aioredis.from_url(server.url).ping()
    async with EmbeddedRedis(home) as server:
        client = aioredis.from_url(server.url)
        assert await client.get("greeting") == b"hello"
        await client.aclose()


async def test_redis_falls_back_to_tcp_when_the_socket_path_is_too_long(home: Path) -> None:
    deep = home / ("x" * 80) / "with space"
    async with EmbeddedRedis(deep) as server:
        assert server.url.startswith("redis://127.0.0.1:")
        client = aioredis.from_url(server.url)
        await client.set("k", "v")
        assert await client.get("k") == b"v"
        await client.aclose()
    assert (deep / "redis" / "appendonly.aof").exists()


async def test_postgres_serves_flowdesk_and_creates_databases(home: Path) -> None:
    postgres = EmbeddedPostgres(home)
    try:
        url = await postgres.start()
        assert url == f"postgresql+asyncpg://postgres@/flowdesk?host={home}/pg"
        connection = await asyncpg.connect(dsn(url))
        assert await connection.fetchval("SELECT 1") == 1
        await connection.execute("CREATE TABLE t (v text)")
        await connection.execute("INSERT INTO t VALUES ('row')")
        await connection.close()

        engine = create_async_engine(url)
        async with engine.connect() as sa:
            assert (await sa.execute(text("SELECT current_database()"))).scalar() == "flowdesk"
        await engine.dispose()

        other = await ensure_database(url, "other")
        assert other == f"postgresql+asyncpg://postgres@/other?host={home}/pg"
        assert await ensure_database(url, "other") == other
        connection = await asyncpg.connect(dsn(other))
        assert await connection.fetchval("SELECT current_database()") == "other"
        await connection.close()
        pid = postmaster_pid(home)
    finally:
        postgres.stop()
    assert not running(pid)
    with pytest.raises(OSError):
        await asyncpg.connect(dsn(url))


async def test_a_stale_postmaster_pid_naming_another_process_is_dropped(home: Path) -> None:
    async with EmbeddedPostgres(home):
        pass
    # What a crash and a reboot can leave: the file names a pid that is now another program.
    pgdata = home / "pg"
    lines = [os.getpid(), pgdata, int(time.time()), 5432, pgdata, "", "5432001 0", "ready"]
    (pgdata / "postmaster.pid").write_text("".join(f"{line}\n" for line in lines))
    postgres = EmbeddedPostgres(home)
    try:
        connection = await asyncpg.connect(dsn(await postgres.start()))
        assert await connection.fetchval("SELECT 1") == 1
        await connection.close()
    finally:
        postgres.stop()


async def test_a_home_has_one_owner(home: Path) -> None:
    async with EmbeddedRedis(home) as owner:
        with pytest.raises(RuntimeError, match="already run by another process"):
            await EmbeddedRedis(home).start()
        # The refused one must not have stopped the owner's server on its way out.
        assert await aioredis.from_url(owner.url).ping()
    async with EmbeddedPostgres(home):
        with pytest.raises(RuntimeError, match="already run by another process"):
            await EmbeddedPostgres(home).start()
        assert running(postmaster_pid(home))


async def answers(urls: StackUrls) -> None:
    connection = await asyncpg.connect(dsn(urls.database_url))
    assert await connection.fetchval("SELECT 1") == 1
    await connection.close()
    client = aioredis.from_url(urls.redis_url)
    assert await client.ping()
    await client.aclose()
    temporal = await Client.connect(urls.temporal_address)
    assert await temporal.service_client.check_health()


async def test_a_restarted_stack_finds_its_row_key_and_workflow(home: Path) -> None:
    stack = EmbeddedStack(home)
    try:
        urls = await stack.start()
        await answers(urls)
        connection = await asyncpg.connect(dsn(urls.database_url))
        await connection.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('row')")
        await connection.close()
        client = aioredis.from_url(urls.redis_url)
        await client.set("kept", "key")
        await client.aclose()
        temporal = await Client.connect(urls.temporal_address)
        # No worker polls this queue: the workflow stays open across the restart.
        await temporal.start_workflow("Kept", id="kept", task_queue="nobody-polls")
        pid = postmaster_pid(home)
    finally:
        stack.stop()
    assert not running(pid)

    stack = EmbeddedStack(home)
    try:
        urls = await stack.start()
        connection = await asyncpg.connect(dsn(urls.database_url))
        assert await connection.fetchval("SELECT v FROM kept") == "row"
        await connection.close()
        client = aioredis.from_url(urls.redis_url)
        assert await client.get("kept") == b"key"
        await client.aclose()
        temporal = await Client.connect(urls.temporal_address)
        described = await temporal.get_workflow_handle("kept").describe()
        assert described.status == WorkflowExecutionStatus.RUNNING
    finally:
        stack.stop()


async def test_two_stacks_with_different_homes_run_side_by_side(home: Path) -> None:
    first = EmbeddedStack(home / "a", temporal_in_memory=True)
    second = EmbeddedStack(home / "b", temporal_in_memory=True)
    try:
        urls = await asyncio.gather(first.start(), second.start())
        assert len({u.database_url for u in urls}) == len({u.redis_url for u in urls}) == 2
        assert len({u.temporal_address for u in urls}) == 2
        for u in urls:
            await answers(u)
        client = aioredis.from_url(urls[0].redis_url)
        await client.set("only-in", "a")
        await client.aclose()
        client = aioredis.from_url(urls[1].redis_url)
        assert await client.get("only-in") is None
        await client.aclose()
    finally:
        first.stop()
        second.stop()


# A parent like `flowdesk dev`: starts a stack, prints the pids of its services, then waits (or,
# with "exit", returns without stopping it and leaves that to atexit).
PARENT = """
import asyncio, json, sys
from pathlib import Path

import asyncpg
import psutil
import redis.asyncio as aioredis
from temporalio.client import Client

from api.embedded import EmbeddedStack


async def answers(urls) -> None:
    connection = await asyncpg.connect(urls.database_url.replace("+asyncpg", ""))
    await connection.fetchval("SELECT 1")
    await connection.close()
    await aioredis.from_url(urls.redis_url).ping()
    await (await Client.connect(urls.temporal_address)).service_client.check_health()


async def main(home: Path, mode: str) -> None:
    stack = EmbeddedStack(home)
    urls = await stack.start()
    pids = [child.pid for child in psutil.Process().children()]
    pids.append(int((home / "pg" / "postmaster.pid").read_text().split()[0]))
    print(json.dumps(pids), flush=True)
    if mode == "exit":
        return
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await answers(urls)
        print("still answering after SIGINT", flush=True)
        stack.stop()
        raise


asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
"""


async def run_parent(home: Path, mode: str) -> tuple[asyncio.subprocess.Process, list[int]]:
    # Its own session, like a job in the foreground of a terminal.
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARENT,
        str(home),
        mode,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), 60)
    if not line:
        assert parent.stderr is not None
        pytest.fail((await parent.stderr.read()).decode())
    pids: list[int] = json.loads(line)
    assert len(pids) == 3
    return parent, pids


def gone(pids: list[int]) -> bool:
    return not any(running(pid) for pid in pids)


async def test_ctrl_c_reaches_only_the_parent_which_stops_all(home: Path) -> None:
    parent, pids = await run_parent(home, "wait")
    os.killpg(parent.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    stdout, stderr = await asyncio.wait_for(parent.communicate(), 60)
    assert b"still answering after SIGINT" in stdout, stderr.decode()
    assert gone(pids)


async def test_a_parent_that_exits_without_stop_leaves_nothing(home: Path) -> None:
    parent, pids = await run_parent(home, "exit")
    _, stderr = await asyncio.wait_for(parent.communicate(), 60)
    assert parent.returncode == 0, stderr.decode()
    assert gone(pids)


async def test_the_next_start_reaps_what_a_killed_parent_left(home: Path) -> None:
    parent, pids = await run_parent(home, "wait")
    parent.kill()
    await parent.communicate()
    assert not gone(pids)  # nobody was left to stop them

    stack = EmbeddedStack(home)
    try:
        await answers(await stack.start())
        redis_and_temporal, postgres = pids[:2], pids[2]
        assert gone(redis_and_temporal)
        assert postmaster_pid(home) == postgres  # adopted, not restarted
    finally:
        stack.stop()
    assert gone(pids)
