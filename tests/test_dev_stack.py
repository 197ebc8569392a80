"""`flowdesk dev` brings up the whole embedded stack, survives a restart, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from api.embedded import free_port
from tests.client import GraphQLClient
from tests.conftest import embedded_home
from tests.walkthrough import walk_through

FLOWDESK = Path(sys.executable).parent / "flowdesk"
ADMIN_PASSWORD = "dev-admin-password-1"


@asynccontextmanager
async def flowdesk_dev(
    home: Path, port: int, *, flowdesk: Path = FLOWDESK, cwd: Path | None = None
) -> AsyncIterator[str]:
    """`flowdesk dev` (this venv's, or the one given) serving on `port`, until it is left."""
    env = {
        **os.environ,
        "FLOWDESK_HOME": str(home),
        "FLOWDESK_PORT": str(port),
        "FLOWDESK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    process = await asyncio.create_subprocess_exec(
        str(flowdesk),
        "dev",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[bytes] = []

    async def collect() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line)

    reader = asyncio.create_task(collect())
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url) as http:
            deadline = asyncio.get_running_loop().time() + 120
            while True:
                assert process.returncode is None, b"".join(output).decode()
                assert asyncio.get_running_loop().time() < deadline, b"".join(output).decode()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        yield base_url
    finally:
        children = (
            psutil.Process(process.pid).children(recursive=True)
            if process.returncode is None
            else []
        )
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 60)
        await reader
        assert code == 0, b"".join(output).decode()
        # Every service it started is gone: Ctrl-C leaves nothing behind.
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert b"Flowdesk is up" in b"".join(output)


@pytest.fixture
def home() -> Iterator[Path]:
    with embedded_home() as path:
        yield path / "state"


async def test_dev_stack_serves_the_walkthrough_and_keeps_state_across_a_restart(
    home: Path,
) -> None:
    port = free_port()
    async with flowdesk_dev(home, port) as base_url:
        walked = await walk_through(base_url, admin="admin", admin_password=ADMIN_PASSWORD)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            as_alice = GraphQLClient(http, walked.alice_token)
            started = await as_alice.execute(
                'mutation { startProcess(key: "vacation", variables: {days: 5}) { id tasks { id } } }'
            )
            pending = started["startProcess"]
            templates = await as_alice.execute(
                "{ processDefinitions(first: 50) { edges { node { key } } } }"
            )
            keys = {e["node"]["key"] for e in templates["processDefinitions"]["edges"]}
            assert {"leave_request", "expense_approval", "document_review", "vacation"} <= keys

    async with (
        flowdesk_dev(home, port) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        as_alice = await GraphQLClient(http).login("alice", "alice-secret-1")
        [task] = pending["tasks"]
        await as_alice.execute(
            "mutation($id: ID!) { completeTask(id: $id, variables: {approved: false}) { status } }",
            {"id": task["id"]},
        )
        instance = await as_alice.execute(
            "query($id: ID!) { processInstance(id: $id) { status variables } }",
            {"id": pending["id"]},
        )
        assert instance["processInstance"] == {
            "status": "COMPLETED",
            "variables": {"days": 5, "approved": False},
        }
