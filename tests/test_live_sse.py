"""Subscriptions over server-sent events (graphql-sse, distinct connections mode), for
clients and proxies that cannot use websockets: the same stream, the same resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api.services.users import UserService
from tests.client import GraphQLClient
from tests.factories import claim, deploy, one_task, start
from tests.kit.people import as_user
from tests.test_live_delivery import TASK_EVENTS


@asynccontextmanager
async def sse(
    app_url: str, token: str, variables: dict[str, Any] | None = None
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """The `next` payloads of a taskEvents subscription over SSE."""
    async with (
        httpx.AsyncClient(base_url=app_url, timeout=30) as http,
        http.stream(
            "POST",
            "/graphql",
            json={"query": TASK_EVENTS, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        async def events() -> AsyncIterator[dict[str, Any]]:
            kind = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: ") and kind == "next":
                    payload: dict[str, Any] = json.loads(line.removeprefix("data: "))
                    assert not payload.get("errors"), payload
                    yield payload["data"]["taskEvents"]

        yield events()


async def test_task_events_stream_over_sse_and_resume_from_a_cursor(
    client: GraphQLClient, users: UserService, app_url: str, unique: str
) -> None:
    group = f"g-{unique}"
    caller = await as_user(client, users, groups=[group])
    key = (await deploy(caller, one_task(group=group)))["key"]
    task_id = (await start(caller, key))["tasks"][0]["id"]
    token = caller.token
    assert token is not None
    async with sse(app_url, token) as events:
        # The headers come before the subscription has joined its reader: give it a moment.
        await asyncio.sleep(0.2)
        await claim(caller, task_id)
        async with asyncio.timeout(15):
            first = await anext(events)
            while first["type"] != "TASK_CLAIMED":
                first = await anext(events)
    await caller.execute("mutation($id: ID!) { unclaimTask(id: $id) { id } }", {"id": task_id})
    async with sse(app_url, token, {"since": first["cursor"]}) as events:
        async with asyncio.timeout(15):
            missed = await anext(events)
    assert (missed["type"], missed["task"]["id"]) == ("TASK_UNCLAIMED", task_id)
