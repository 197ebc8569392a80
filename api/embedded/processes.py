"""What the embedded services share: server processes of ours, each in a session of its own, and
the lock files in home that let the next start reap a server whose owner was killed."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import psutil

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_POLL_INTERVAL = 0.05
_PROBE_TIMEOUT = 1.0
_LOG_TAIL_BYTES = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the server binds it; the server then exits with "address
    already in use", which start() reports.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each server leads its own process group, so this reaches any helper process it spawned too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_exit(process: psutil.Process, timeout: float) -> bool:
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


class HomeLock:
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
        if not wait_exit(leftover, STOP_TIMEOUT):
            _signal_group(leftover.pid, signal.SIGKILL)
            wait_exit(leftover, STOP_TIMEOUT)


class Server:
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


class Service(ABC):
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


async def wait_until(server: Server, answers: Callable[[], Awaitable[bool]]) -> None:
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
