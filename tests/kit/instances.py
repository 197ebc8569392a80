"""Reading an instance over the API, and waiting for the worker to move it on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.client import GraphQLClient
from tests.kit.waiting import eventually

FIELDS = """id status variables incident businessKey startedAt endedAt
  definition { key version }
  parent { id }
  tasks { id name nodeId status assignee { username } }
  history { seq type nodeId taskId actor { username } data }"""
READ = f"query($id: ID!) {{ processInstance(id: $id) {{ {FIELDS} }} }}"
LIVE = "query($id: ID!) { processInstance(id: $id) { liveState } }"


async def read(client: GraphQLClient, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.execute(READ, {"id": instance_id}))["processInstance"]
    return found


async def live(client: GraphQLClient, instance_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await client.execute(LIVE, {"id": instance_id}))["processInstance"][
        "liveState"
    ]
    return found


async def until(
    client: GraphQLClient, instance_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The instance once `done` holds for it (the worker moves it on by itself)."""
    await eventually(lambda: read(client, instance_id), done, what="the instance")
    # Read again: the instance row and its tasks are separate reads, and the step that made
    # `done` hold may have committed between them.
    return await read(client, instance_id)
