"""A worker SIGKILLed while it runs a service task's action: the action's missing
heartbeats tell Temporal within seconds, the action runs again on another worker, and
the instance goes on, instead of waiting out the action's five-minute timeout. Actions
that only compute (`set`, `log`) run as local activities, beside the workflow."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.auth.tokens import TokenIssuer
from api.db import SessionMaker
from api.embedded import free_port
from api.services.users import UserService
from api.settings import Settings
from engine.enums import HistoryEventType
from engine.workflow_contract import ACTIVITY_RUN_ACTION, workflow_id
from schema.ids import decode_id
from tests.client import GraphQLClient
from tests.conftest import serve_app
from tests.factories import deploy, start
from tests.kit.people import make_user
from tests.test_worker_restart import happened, until, worker_process


class HangingOnce:
    """An HTTP endpoint whose first request never gets an answer; later ones get 200."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/check"
        self.first_request = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if not self.first_request.is_set():
            self.first_request.set()
            await asyncio.Event().wait()  # held until the test ends
        body = b'{"healthy": true}'
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def hanging_once() -> AsyncIterator[HangingOnce]:
    stub = HangingOnce()
    server = await asyncio.start_server(stub.serve, "127.0.0.1", stub.port)
    try:
        yield stub
    finally:
        server.close()


def checked_then_reviewed(url: str, group: str) -> dict[str, Any]:
    return {
        "key": f"dead_worker_{secrets.token_hex(4)}",
        "name": "Checked, then reviewed",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "note", "type": "serviceTask", "action": "set", "input": {"noted": True}},
            {
                "id": "check",
                "type": "serviceTask",
                "action": "http",
                "input": {"url": url, "timeout": 600},
                "output": {"healthy": "result.body.healthy"},
            },
            {"id": "review", "type": "userTask", "candidateGroups": [group]},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [
            {"from": "start", "to": "note"},
            {"from": "note", "to": "check"},
            {"from": "check", "to": "review"},
            {"from": "review", "to": "end"},
        ],
    }


async def test_an_action_whose_worker_died_runs_again_elsewhere_within_seconds(
    settings: Settings, sessions: SessionMaker, users: UserService, temporal: Client
) -> None:
    own = settings.model_copy(
        update={"task_queue": f"dead-worker-{secrets.token_hex(4)}", "port": free_port()}
    )
    group = f"dead-worker-{secrets.token_hex(4)}"
    user = await make_user(users, groups=[group])
    token = TokenIssuer(own).issue(user.id, user.username)

    async with (
        hanging_once() as stub,
        serve_app(own) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
        worker_process(own) as worker,
    ):
        caller = GraphQLClient(http, token)
        definition = await deploy(caller, checked_then_reviewed(stub.url, group))
        await worker.start()
        started = await start(caller, definition["key"])
        async with asyncio.timeout(20):
            await stub.first_request.wait()

        # Killed while the action waits for its answer; another worker takes over.
        await worker.kill()
        await worker.start()
        # The heartbeat timeout (10 s), the retry's wait (1 s) and the dead worker's
        # sticky queue (10 s) stand between the kill and the task: not five minutes.
        events = await until(
            sessions, started["id"], happened(HistoryEventType.TASK_CREATED), within=30
        )

    assert not happened(HistoryEventType.SERVICE_FAILED)(events)
    instance_id = str(decode_id(started["id"], "ProcessInstance"))
    history = await temporal.get_workflow_handle(workflow_id(instance_id)).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # Only the http action went to the task queue, with a heartbeat timeout; `set` ran
    # beside the workflow, as a local activity (a marker in the history).
    assert [s.heartbeat_timeout.ToSeconds() for s in scheduled] == [10]
    local = [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert [m["activity_type"] for m in local].count(ACTIVITY_RUN_ACTION) == 1
