"""PostgreSQL, as pgserver ships and starts it, and the databases on it."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import subprocess
import threading
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import psutil

from api.embedded.processes import STOP_TIMEOUT, HomeLock, Service, wait_exit

with warnings.catch_warnings():
    # pgserver resolves XDG_RUNTIME_DIR at import and warns when it is unset, as in containers and
    # CI; it keeps only its lock file there, for which its /tmp fallback serves as well.
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.postgres_server import PostgresServer


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


async def drop_database(url: str, name: str) -> None:
    """Drop database `name` on the server `url` points to, closing what still uses it."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        quoted = name.replace('"', '""')
        await connection.execute(f'DROP DATABASE IF EXISTS "{quoted}" WITH (FORCE)')
    finally:
        await connection.close()


# pgserver guards its setup with an fcntl lock, which keeps other processes out but not other
# threads of ours: two setups at once fail ("Unable to release an unaquired lock") or race initdb.
_PGSERVER_SETUP = threading.Lock()


def _start_pgserver(pgdata: Path) -> PostgresServer:
    with _PGSERVER_SETUP:
        return PostgresServer(pgdata, cleanup_mode=None)


class EmbeddedPostgres(Service):
    """PostgreSQL from pgserver in home/pg, reached over a unix socket only (no port to clash).

    As root, pgserver creates a `pgserver` system user, hands it the data directory, opens the
    directories above it to others (o+rx) so that user can reach it, and runs postgres as it.
    Whatever closes one of those directories again cuts the server off from its files: pytest
    does it to /tmp/pytest-of-root at every session start, so keep homes out of its tmp_path.
    """

    database = "flowdesk"

    def __init__(self, home: Path) -> None:
        self.pgdata = home.resolve() / "pg"
        self._lock = HomeLock(home.resolve() / "pg.lock", "PostgreSQL")

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
                wait_exit(postmaster, STOP_TIMEOUT)
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
