"""Driving Flowdesk as its clients do (GraphQL over HTTP) with many concurrent clients."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.http import Connection

START = """mutation($k: String!, $b: String) {
  startProcess(key: $k, businessKey: $b) { id status tasks { id } } }"""
COMPLETE = "mutation($id: ID!) { completeTask(id: $id) { id status } }"
DEPLOY = "mutation($d: JSON!) { deployDefinition(definition: $d) { id key version } }"


def one_task_definition(group: str) -> dict[str, Any]:
    """start -> one user task for `group` -> end (as tests/factories.py's one_task)."""
    return {
        "key": f"bench_one_task_{uuid.uuid4().hex[:8]}",
        "name": "One task",
        "nodes": [
            {"id": "start", "type": "startEvent"},
            {"id": "work", "type": "userTask", "name": "Do the work", "candidateGroups": [group]},
            {"id": "end", "type": "endEvent"},
        ],
        "flows": [{"from": "start", "to": "work"}, {"from": "work", "to": "end"}],
    }


async def deploy(connection: Connection, definition: dict[str, Any]) -> str:
    data = await connection.graphql(DEPLOY, {"d": definition})
    key: str = data["deployDefinition"]["key"]
    return key


async def start(connection: Connection, key: str, business_key: str | None = None) -> str:
    """Start an instance; returns the id of its (one) open task."""
    data = await connection.graphql(START, {"k": key, "b": business_key})
    task_id: str = data["startProcess"]["tasks"][0]["id"]
    return task_id


async def complete(connection: Connection, task_id: str) -> None:
    data = await connection.graphql(COMPLETE, {"id": task_id})
    if data["completeTask"]["status"] != "COMPLETED":
        raise AssertionError(data)


@dataclass
class Run:
    """Per-item latencies (seconds) and the wall time of a run of concurrent clients."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0


async def concurrently(
    count: int,
    clients: int,
    work: Callable[[int, int], Awaitable[None]],
) -> Run:
    """`work(client, item)` for items 0..count-1, by `clients` concurrent clients."""
    run = Run()
    items = iter(range(count))

    async def client(index: int) -> None:
        for item in items:
            began = time.perf_counter()
            try:
                await work(index, item)
            except Exception as exc:  # counted, not fatal: a run reports its failures
                run.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                continue
            run.latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    run.wall = time.perf_counter() - began
    return run
