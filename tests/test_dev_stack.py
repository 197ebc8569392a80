"""`flowdesk dev` brings up the whole embedded stack, survives a restart, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

import templates
from api.dev import dev_settings
from api.embedded import StackUrls, free_port
from api.settings import Settings
from tests.client import GraphQLClient
from tests.conftest import embedded_home
from tests.kit.waiting import SLOW, eventually
from tests.walkthrough import walk_through

FLOWDESK = Path(sys.executable).parent / "flowdesk"
ADMIN_PASSWORD = "dev-admin-password-1"


@dataclass
class DevStack:
    """A running `flowdesk dev`, as its banner describes it."""

    base_url: str
    banner: dict[str, str]


def parse_banner(output: str) -> dict[str, str] | None:
    """The rows of the banner (label -> value, wrapped lines joined), once it is printed."""
    lines = output.splitlines()
    if "Flowdesk is up" not in lines:
        return None
    rows: dict[str, str] = {}
    label = ""
    for line in lines[lines.index("Flowdesk is up") + 1 :]:
        if line.startswith("====="):
            return rows
        if line[2:3] != " ":
            label, value = line[2:15].strip(), line[15:]
            rows[label] = value
        else:
            rows[label] += " " + line.strip()
    return None


@asynccontextmanager
async def flowdesk_dev(
    home: Path,
    port: int,
    *,
    flowdesk: Path = FLOWDESK,
    cwd: Path | None = None,
    admin_password: str | None = ADMIN_PASSWORD,
    env: dict[str, str] | None = None,
) -> AsyncIterator[DevStack]:
    """`flowdesk dev` (this venv's, or the one given) serving on `port`, until it is left;
    FLOWDESK_ADMIN_PASSWORD is `admin_password` unless that is None."""
    environment = {
        **os.environ,
        "FLOWDESK_HOME": str(home),
        "FLOWDESK_PORT": str(port),
        **(env or {}),
    }
    environment.pop("FLOWDESK_ADMIN_PASSWORD", None)
    if admin_password is not None:
        environment["FLOWDESK_ADMIN_PASSWORD"] = admin_password
    process = await asyncio.create_subprocess_exec(
        str(flowdesk),
        "dev",
        env=environment,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[bytes] = []

    def printed() -> str:
        return b"".join(output).decode()

    async def collect() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line)

    reader = asyncio.create_task(collect())
    base_url = f"http://127.0.0.1:{port}"
    try:

        async def banner_so_far() -> dict[str, str] | None:
            assert process.returncode is None, printed()
            return parse_banner(printed())

        banner = await eventually(banner_so_far, what="the banner", within=SLOW)
        assert banner is not None
        # The banner comes once the stack listens: ready at once, no retry.
        async with httpx.AsyncClient(base_url=base_url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
        yield DevStack(base_url, banner)
    finally:
        children = (
            psutil.Process(process.pid).children(recursive=True)
            if process.returncode is None
            else []
        )
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 60)
        await reader
        assert code == 0, printed()
        # Every service it started is gone: Ctrl-C leaves nothing behind.
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        # initdb's output stays out of the way.
        assert "Success. You can now start the database server" not in printed()


@pytest.fixture
def home() -> Iterator[Path]:
    with embedded_home() as path:
        yield path / "state"


async def test_dev_stack_serves_the_walkthrough_and_keeps_state_across_a_restart(
    home: Path,
) -> None:
    port = free_port()
    async with flowdesk_dev(home, port) as dev:
        base_url = dev.base_url
        assert dev.banner["GraphiQL"] == f"{base_url}/graphql"
        assert dev.banner["Admin"] == "admin, password from FLOWDESK_ADMIN_PASSWORD"
        assert dev.banner["Templates"].startswith(f"{len(templates.documents())} deployed: ")
        assert "leave_request v1" in dev.banner["Templates"]
        async with httpx.AsyncClient() as http:
            ui = await http.get(dev.banner["Temporal UI"])
            assert ui.status_code == 200 and "<html" in ui.text.lower()
        walked = await walk_through(base_url, admin="admin", admin_password=ADMIN_PASSWORD)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            as_alice = GraphQLClient(http, walked.alice_token)
            started = await as_alice.execute(
                'mutation { startProcess(key: "vacation", variables: {days: 5}) { id tasks { id } } }'
            )
            pending = started["startProcess"]
            definitions = await as_alice.execute(
                "{ processDefinitions(first: 50) { edges { node { key } } } }"
            )
            keys = {e["node"]["key"] for e in definitions["processDefinitions"]["edges"]}
            assert {"leave_request", "expense_approval", "document_review", "vacation"} <= keys

    async with (
        flowdesk_dev(home, port) as dev,
        httpx.AsyncClient(base_url=dev.base_url, timeout=30) as http,
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


@pytest.mark.parametrize(
    ("environment", "graphiql", "introspection"),
    [
        ({}, True, True),
        ({"FLOWDESK_GRAPHIQL": "false", "FLOWDESK_INTROSPECTION": "false"}, False, False),
        ({"FLOWDESK_INTROSPECTION": "0"}, True, False),
    ],
)
def test_flowdesk_dev_turns_graphiql_and_introspection_on_unless_the_environment_says(
    environment: dict[str, str],
    graphiql: bool,
    introspection: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ("FLOWDESK_GRAPHIQL", "FLOWDESK_INTROSPECTION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    urls = StackUrls("postgresql+asyncpg://pg/flowdesk", "redis://r/0", "127.0.0.1:1")
    settings = dev_settings(Settings(), urls, tmp_path)
    assert (settings.graphiql, settings.introspection) == (graphiql, introspection)
    assert settings.database_url == urls.database_url
