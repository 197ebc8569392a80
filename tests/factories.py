"""Factories with keyword defaults: deploy a definition, start an instance, make people."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.client import GraphQLClient

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

INSTANCE_FIELDS = """
  id status businessKey variables startedAt endedAt
  definition { key version }
  tasks { id name nodeId status assignee { username } candidateGroups priority dueAt form }
  history { seq type nodeId taskId actor { username } at data }
"""

TASK_FIELDS = """
  id name nodeId status priority dueAt form createdAt completedAt candidateGroups
  assignee { username }
  instance { id status businessKey }
"""


def template(name: str, *, key: str | None = None) -> dict[str, Any]:
    """A shipped template, under a fresh key so that tests do not share versions."""
    document: dict[str, Any] = json.loads((TEMPLATES / f"{name}.json").read_text())
    document["key"] = key or fresh_key(name)
    return document


def fresh_key(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:8]}"


def process(
    name: str, nodes: list[dict[str, Any]], flows: list[tuple[str, str] | dict[str, Any]]
) -> dict[str, Any]:
    """A definition from nodes between a start and an end, and plain (from, to) flows; a
    flow given as a dict is kept as it is."""
    return {
        "key": fresh_key(name),
        "name": name,
        "nodes": [{"id": "start", "type": "startEvent"}, *nodes, {"id": "end", "type": "endEvent"}],
        "flows": [f if isinstance(f, dict) else {"from": f[0], "to": f[1]} for f in flows],
    }


def task(node_id: str, group: str, **fields: Any) -> dict[str, Any]:
    """A user task for `group`."""
    return {"id": node_id, "type": "userTask", "candidateGroups": [group], **fields}


def one_task(
    *, key: str | None = None, group: str | None = None, form: dict[str, Any] | None = None
) -> dict[str, Any]:
    """start -> one user task for `group` (a group of its own when none is given) -> end."""
    return {
        "key": key or fresh_key("one_task"),
        "name": "One task",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {
                "id": "work",
                "type": "userTask",
                "name": "Do the work",
                "candidateGroups": [group or fresh_key("reviewers")],
                **({"form": form} if form else {}),
            },
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [{"from": "start", "to": "work"}, {"from": "work", "to": "end"}],
    }


async def deploy(client: GraphQLClient, definition: dict[str, Any]) -> dict[str, Any]:
    data = await client.execute(
        "mutation($d: JSON!) { deployDefinition(definition: $d) { id key version name checksum } }",
        {"d": definition},
    )
    result: dict[str, Any] = data["deployDefinition"]
    return result


async def start(
    client: GraphQLClient, key: str, *, business_key: str | None = None, **variables: Any
) -> dict[str, Any]:
    data = await client.execute(
        f"mutation($k: String!, $b: String, $v: JSON) {{ startProcess(key: $k, businessKey: $b, variables: $v) {{ {INSTANCE_FIELDS} }} }}",
        {"k": key, "b": business_key, "v": variables},
    )
    result: dict[str, Any] = data["startProcess"]
    return result


async def instance(client: GraphQLClient, instance_id: str) -> dict[str, Any]:
    data = await client.execute(
        f"query($id: ID!) {{ processInstance(id: $id) {{ {INSTANCE_FIELDS} }} }}",
        {"id": instance_id},
    )
    result: dict[str, Any] = data["processInstance"]
    return result


async def inbox(client: GraphQLClient, first: int = 20, after: str | None = None) -> dict[str, Any]:
    data = await client.execute(
        f"query($f: Int, $a: String) {{ tasks(first: $f, after: $a) {{ edges {{ cursor node {{ {TASK_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}",
        {"f": first, "a": after},
    )
    result: dict[str, Any] = data["tasks"]
    return result


async def claim(client: GraphQLClient, task_id: str) -> dict[str, Any]:
    data = await client.execute(
        f"mutation($id: ID!) {{ claimTask(id: $id) {{ {TASK_FIELDS} }} }}", {"id": task_id}
    )
    result: dict[str, Any] = data["claimTask"]
    return result


async def complete(client: GraphQLClient, task_id: str, **variables: Any) -> dict[str, Any]:
    data = await client.execute(
        f"mutation($id: ID!, $v: JSON) {{ completeTask(id: $id, variables: $v) {{ {TASK_FIELDS} }} }}",
        {"id": task_id, "v": variables},
    )
    result: dict[str, Any] = data["completeTask"]
    return result
