"""Point-in-time recovery on a throwaway PostgreSQL cluster of the test's own: a base backup,
more writes, a restore to a moment between them, and exactly what existed then."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from pgserver._commands import POSTGRES_BIN_PATH
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from api.backup import BackupError, prepare_restore
from api.embedded import free_port
from api.migrate import upgrade
from api.models import ProcessDefinition, ProcessInstance, Task
from engine.enums import InstanceStatus, TaskStatus
from tests.conftest import embedded_home
from tests.kit.waiting import SLOW, eventually

PG_BIN = Path(POSTGRES_BIN_PATH)


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run the cluster as `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return "postgres"


def _own(path: Path, user: str | None) -> None:
    if user is not None:
        shutil.chown(path, user)
        for child in path.rglob("*"):
            shutil.chown(child, user)


@dataclass
class Cluster:
    data: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/flowdesk"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            user=self.user,
        )

    def start(self) -> None:
        self.pg_ctl("-l", str(self.data.parent / f"{self.data.name}.log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def archiving_cluster(home: Path) -> Iterator[tuple[Cluster, Path]]:
    """A new cluster that archives every finished WAL segment into home/wal."""
    user = _server_user()
    archive = home / "wal"
    archive.mkdir()
    _own(home, user)
    cluster = Cluster(home / "primary", free_port(), user)
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
        user=user,
    )
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{home}'\nwal_level = replica\n"
            f'archive_mode = on\narchive_command = \'cp "%p" "{archive}/%f"\'\n'
        )
    cluster.start()
    try:
        yield cluster, archive
    finally:
        cluster.stop()


def flowdesk(cluster: Cluster, *args: str) -> None:
    """The CLI as an operator runs it, configured by the environment."""
    command = Path(sys.executable).parent / "flowdesk"
    env = {**os.environ, "FLOWDESK_DATABASE_URL": cluster.url}
    subprocess.run([str(command), *args], check=True, env=env, capture_output=True)


async def _connect(cluster: Cluster, database: str = "flowdesk") -> asyncpg.Connection:
    return await asyncpg.connect(
        host="127.0.0.1", port=cluster.port, user="postgres", database=database
    )


async def _write_instances(cluster: Cluster, definition: uuid.UUID, count: int) -> set[uuid.UUID]:
    """`count` instances, each with an open task, in one transaction as the worker writes them."""
    instances = [
        ProcessInstance(
            id=uuid.uuid4(),
            definition_id=definition,
            status=InstanceStatus.RUNNING,
            started_at=datetime.now(UTC),
        )
        for _ in range(count)
    ]
    tasks = [
        Task(
            id=uuid.uuid4(),
            instance_id=instance.id,
            node_id="review",
            name="Review",
            status=TaskStatus.CREATED,
            created_at=datetime.now(UTC),
        )
        for instance in instances
    ]
    engine = create_async_engine(cluster.url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add_all(instances)
            await session.flush()
            session.add_all(tasks)
    finally:
        await engine.dispose()
    return {instance.id for instance in instances}


async def _archive_current_wal(cluster: Cluster) -> None:
    """Close the current WAL segment and wait until the server archived it."""
    connection = await _connect(cluster)
    try:
        segment = await connection.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
        archived = "SELECT last_archived_wal >= $1 FROM pg_stat_archiver"
        await eventually(lambda: connection.fetchval(archived, segment), what="the WAL archived")
    finally:
        await connection.close()


@pytest.fixture
async def primary() -> AsyncIterator[tuple[Cluster, Path, uuid.UUID]]:
    with embedded_home() as home, archiving_cluster(home) as (cluster, archive):
        admin = await _connect(cluster, "postgres")
        await admin.execute("CREATE DATABASE flowdesk")
        await admin.close()
        await upgrade(cluster.url)
        definition = ProcessDefinition(
            key="backup-test", version=1, name="Backup", spec={}, checksum=""
        )
        engine = create_async_engine(cluster.url)
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            session.add(definition)
        await engine.dispose()
        yield cluster, archive, definition.id


async def _instance_ids(cluster: Cluster) -> set[uuid.UUID]:
    connection = await _connect(cluster)
    try:
        rows = await connection.fetch(
            "SELECT i.id FROM process_instances i JOIN tasks t ON t.instance_id = i.id"
        )
        return {row["id"] for row in rows}
    finally:
        await connection.close()


async def test_restore_to_a_point_in_time_finds_exactly_what_existed_then(
    primary: tuple[Cluster, Path, uuid.UUID],
) -> None:
    cluster, archive, definition = primary
    backups = cluster.data.parent / "backups"
    before_backup = await _write_instances(cluster, definition, 20)
    flowdesk(cluster, "backup", "--to", str(backups), "--pg-bin", str(PG_BIN))
    after_backup = await _write_instances(cluster, definition, 30)
    connection = await _connect(cluster)
    target: datetime = await connection.fetchval("SELECT clock_timestamp()")
    await connection.close()
    await asyncio.sleep(0.2)
    too_late = await _write_instances(cluster, definition, 10)
    await _archive_current_wal(cluster)

    restored = Cluster(cluster.data.parent / "restored", free_port(), cluster.user)
    started = time.monotonic()
    flowdesk(
        cluster,
        "restore",
        *("--from", str(backups), "--wal-archive", str(archive)),
        *("--data-dir", str(restored.data), "--target-time", target.isoformat()),
    )
    with (restored.data / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"port = {restored.port}\narchive_mode = off\n")
    _own(restored.data, restored.user)
    restored.start()
    try:
        connection = await _connect(restored)
        await eventually(
            lambda: connection.fetchval("SELECT NOT pg_is_in_recovery()"),
            what="the end of recovery",
            within=SLOW,
        )
        await connection.close()
        print(f"restored to {target.isoformat()} in {time.monotonic() - started:.1f}s")
        found = await _instance_ids(restored)
    finally:
        restored.stop()
    assert found == before_backup | after_backup
    assert not found & too_late


def test_restore_refuses_a_moment_before_every_base_backup(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no base backup"):
        prepare_restore(tmp_path / "none", tmp_path / "wal", tmp_path / "data")


def test_restore_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("16")
    with pytest.raises(BackupError, match="not empty"):
        prepare_restore(tmp_path, tmp_path / "wal", tmp_path / "data")
