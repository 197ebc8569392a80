"""Durability: the worker runs as its own process and is killed (SIGKILL) mid-instance;
a new worker process carries on where it stopped, with no step done twice and none lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.embedded import free_port
from api.models import HistoryEvent
from api.services.users import UserService
from api.settings import Settings
from engine.enums import HistoryEventType
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.factories import deploy, instance, start
from tests.kit.operations import COMPLETE
from tests.kit.people import make_user
from tests.kit.waiting import WITHIN, eventually

FLOWDESK = Path(sys.executable).parent / "flowdesk"


def two_steps(group: str) -> dict[str, Any]:
    """Two user tasks in sequence; between them a service task and a timer."""
    return {
        "key": f"restart_{secrets.token_hex(4)}",
        "name": "Two steps",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "first", "type": "userTask", "candidateGroups": [group]},
            {
                "id": "price",
                "type": "serviceTask",
                "action": "set",
                "input": {"total": "=quantity * 3"},
            },
            {"id": "cool_off", "type": "timer", "duration": "PT2S"},
            {"id": "second", "type": "userTask", "candidateGroups": [group]},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "first"},
            {"from": "first", "to": "price"},
            {"from": "price", "to": "cool_off"},
            {"from": "cool_off", "to": "second"},
            {"from": "second", "to": "end"},
        ],
    }


class WorkerProcess:
    """`flowdesk worker` in a process of its own, configured by environment variables."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self._env = {
            **os.environ,
            "FLOWDESK_DATABASE_URL": settings.database_url,
            "FLOWDESK_REDIS_URL": settings.redis_url,
            "FLOWDESK_TEMPORAL_ADDRESS": settings.temporal_address,
            "FLOWDESK_TASK_QUEUE": settings.task_queue,
            "FLOWDESK_EVENT_CHANNEL_PREFIX": settings.event_channel_prefix,
            "FLOWDESK_LOG_LEVEL": "INFO",
            # The stub servers its service tasks call are on this machine.
            "FLOWDESK_HTTP_ALLOW": ",".join(settings.http_allow),
        }
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        offset = self._log.stat().st_size if self._log.exists() else 0
        with self._log.open("ab") as out:
            self._process = await asyncio.create_subprocess_exec(
                str(FLOWDESK), "worker", env=self._env, stdout=out, stderr=out
            )
        process = self._process

        async def polling() -> bool:
            assert process.returncode is None, self._log.read_text()
            return b"worker polling task queue" in self._log.read_bytes()[offset:]

        await eventually(polling, what="the worker to poll its task queue")

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no chance to finish what it was doing."""
        assert self._process is not None
        self._process.kill()
        await self._process.wait()
        self._process = None

    async def stop(self) -> None:
        if self._process is not None:
            await self.kill()


@contextlib.asynccontextmanager
async def worker_process(settings: Settings) -> AsyncIterator[WorkerProcess]:
    with tempfile.TemporaryDirectory(prefix="flowdesk-worker-") as folder:
        worker = WorkerProcess(settings, Path(folder) / "worker.log")
        try:
            yield worker
        finally:
            await worker.stop()


async def history(sessions: SessionMaker, instance_id: str) -> list[HistoryEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(HistoryEvent)
            .where(col(HistoryEvent.instance_id) == decode_id(instance_id, "ProcessInstance"))
            .order_by(col(HistoryEvent.seq))
        )
        return list(rows.all())


async def until(
    sessions: SessionMaker,
    instance_id: str,
    done: Callable[[list[HistoryEvent]], bool],
    *,
    within: float = WITHIN,
) -> list[HistoryEvent]:
    events: list[HistoryEvent] = await eventually(
        lambda: history(sessions, instance_id), done, what="the history", within=within
    )
    return events


def happened(kind: HistoryEventType, times: int = 1) -> Callable[[list[HistoryEvent]], bool]:
    return lambda events: sum(e.type is kind for e in events) >= times


async def test_a_new_worker_process_carries_on_where_the_killed_one_stopped(
    settings: Settings, sessions: SessionMaker, users: UserService
) -> None:
    # Its own task queue: only the worker processes of this test run these instances.
    own = settings.model_copy(
        update={"task_queue": f"restart-{secrets.token_hex(4)}", "port": free_port()}
    )
    group = f"restart-{secrets.token_hex(4)}"
    user = await make_user(users, groups=[group])
    token = TokenIssuer(own).issue(user.id, user.username)

    async with (
        serve_app(own) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
        worker_process(own) as worker,
    ):
        caller = GraphQLClient(http, token)
        definition = await deploy(caller, two_steps(group))
        await worker.start()
        started = await start(caller, definition["key"], quantity=4)
        [first] = started["tasks"]
        await caller.execute(COMPLETE, {"id": first["id"], "v": {"checked": True}})

        # Killed while the timer after the service task is pending.
        await until(sessions, started["id"], happened(HistoryEventType.TIMER_STARTED))
        await worker.kill()
        events = await history(sessions, started["id"])
        assert not happened(HistoryEventType.TIMER_FIRED)(events)

        # A new worker process picks the instance up: the timer fires, the second task
        # comes, and completing it ends the instance.
        await worker.start()
        await until(sessions, started["id"], happened(HistoryEventType.TASK_CREATED, times=2))
        found = await instance(caller, started["id"])
        [second] = [t for t in found["tasks"] if t["nodeId"] == "second"]
        completed = await caller.execute(COMPLETE, {"id": second["id"]})
        assert completed["completeTask"]["status"] == "COMPLETED"

        done = await instance(caller, started["id"])

    assert done["status"] == "COMPLETED"
    assert done["variables"] == {"quantity": 4, "checked": True, "total": 12}
    assert [(t["nodeId"], t["status"]) for t in done["tasks"]] == [
        ("first", "COMPLETED"),
        ("second", "COMPLETED"),
    ]
    events = await history(sessions, started["id"])
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    kinds = Counter(e.type for e in events)
    entered = Counter(e.node_id for e in events if e.type is HistoryEventType.NODE_ENTERED)
    assert entered == dict.fromkeys(("start", "first", "price", "cool_off", "second", "end"), 1)
    assert kinds[HistoryEventType.TASK_CREATED] == 2
    assert kinds[HistoryEventType.TASK_COMPLETED] == 2
    assert kinds[HistoryEventType.SERVICE_STARTED] == kinds[HistoryEventType.SERVICE_COMPLETED] == 1
    assert kinds[HistoryEventType.TIMER_STARTED] == kinds[HistoryEventType.TIMER_FIRED] == 1
    assert kinds[HistoryEventType.INSTANCE_COMPLETED] == 1
