"""many_open: many instances open at once, each waiting on a user task.

Opens N instances through GraphQL (default 2,000; the target size is 10,000:
`--instances 10000`), sampling the worker's RSS as they open; measures the inbox page and the
instance queries with few instances open and with all N open; then completes a random 1,000
through GraphQL and checks they all drain. The worker's sticky cache is bounded by
settings.worker_cached_workflows (`--cache`, default the setting's 1,000): past it, memory
should stay flat and evicted workflows replay when their task completes.

Targets: worker RSS flat once the cache is full (<= 1.1x), inbox and instance queries keep
their speed (p50 with N open <= 1.3x p50 with few open), every completion lands.

    python -m bench.many_open [--instances 2000] [--complete 1000] [--cache 1000] [-c 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bench.flows import complete, concurrently, deploy, one_task_definition, start
from bench.http import Connection
from bench.inbox_data import INBOX_QUERY
from bench.report import Report, Summary
from bench.stack import Child, Stack

GROUP = "bench-many"
INSTANCES_QUERY = """query { processInstances(first: 50) { edges { node {
  id status businessKey startedAt definition { key version } tasks { id status }
} } pageInfo { hasNextPage endCursor } } }"""
INSTANCE_QUERY = """query($id: ID!) { processInstance(id: $id) {
  id status businessKey variables startedAt definition { key version }
  tasks { id name status candidateGroups } history { seq type nodeId at }
} }"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.many_open", description=__doc__)
    p.add_argument("--instances", type=int, default=2000, help="instances open at once")
    p.add_argument("--complete", type=int, default=1000, help="random tasks completed at the end")
    p.add_argument(
        "--cache", type=int, default=None, help="worker_cached_workflows (default: the setting)"
    )
    p.add_argument("--baseline", type=int, default=100, help="instances open for the 'few' figures")
    p.add_argument("-c", "--clients", type=int, default=10, help="concurrent clients")
    p.add_argument("--requests", type=int, default=100, help="measured requests per query")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


async def timed(count: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(5):
        await call()
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - began)
    return latencies


async def query_figures(
    connection: Connection, instance_id: str, requests: int
) -> dict[str, list[float]]:
    return {
        "inbox page (50 tasks, nested)": await timed(
            requests, lambda: connection.graphql(INBOX_QUERY, {"first": 50})
        ),
        "processInstances (50, with tasks)": await timed(
            requests, lambda: connection.graphql(INSTANCES_QUERY)
        ),
        "processInstance by id (tasks, history)": await timed(
            requests, lambda: connection.graphql(INSTANCE_QUERY, {"id": instance_id})
        ),
    }


async def open_instances(
    stack: Stack,
    token: str,
    key: str,
    count: int,
    clients: int,
    task_ids: list[str],
    worker: Child,
    rss: dict[int, float],
    every: int,
) -> float:
    """Start `count` instances, appending their task ids; returns the wall time."""
    connections = [Connection("127.0.0.1", stack.settings.port, token) for _ in range(clients)]
    for connection in connections:
        await connection.__aenter__()

    async def one(client: int, item: int) -> None:
        task_ids.append(await start(connections[client], key, f"MANY-{len(task_ids)}"))
        if len(task_ids) % every == 0:
            rss[len(task_ids)] = round(worker.rss_mib(), 1)

    try:
        run = await concurrently(count, clients, one)
    finally:
        for connection in connections:
            await connection.__aexit__(None, None, None)
    if run.errors:
        raise RuntimeError(f"{len(run.errors)} starts failed, first: {run.errors[0]}")
    return run.wall


async def run(args: argparse.Namespace) -> Report:
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        cache = args.cache if args.cache is not None else stack.settings.worker_cached_workflows
        worker = await stack.start("worker", worker_cached_workflows=cache)
        await stack.start("api")
        person = await stack.person(groups=[GROUP])
        task_ids: list[str] = []
        rss: dict[int, float] = {0: round(worker.rss_mib(), 1)}
        every = max(1, args.instances // 20)
        async with Connection("127.0.0.1", stack.settings.port, person.token) as connection:
            key = await deploy(connection, one_task_definition(GROUP))
            await open_instances(
                stack, person.token, key, args.baseline, args.clients, task_ids, worker, rss, every
            )
            first_instance = await _instance_of(connection, task_ids[0])
            few = await query_figures(connection, first_instance, args.requests)
            opening = await open_instances(
                stack,
                person.token,
                key,
                args.instances - args.baseline,
                args.clients,
                task_ids,
                worker,
                rss,
                every,
            )
            rss[len(task_ids)] = round(worker.rss_mib(), 1)
            open_count = await stack.fetchval(
                "SELECT count(*) FROM process_instances WHERE status = 'RUNNING'"
            )
            many = await query_figures(connection, first_instance, args.requests)
        chosen = random.Random(7).sample(task_ids, min(args.complete, len(task_ids)))
        connections = [
            Connection("127.0.0.1", stack.settings.port, person.token) for _ in range(args.clients)
        ]
        for c in connections:
            await c.__aenter__()
        try:
            drained = await concurrently(
                len(chosen),
                args.clients,
                lambda client, item: complete(connections[client], chosen[item]),
            )
        finally:
            for c in connections:
                await c.__aexit__(None, None, None)
        completed = await stack.fetchval(
            "SELECT count(*) FROM process_instances WHERE status = 'COMPLETED'"
        )
        rss_after = round(worker.rss_mib(), 1)

        report = Report(
            "many_open",
            {
                **stack.setting,
                "instances": f"{args.instances} open at once ({open_count} RUNNING in PostgreSQL)",
                "worker_cached_workflows": cache,
                "clients": args.clients,
                "few": f"figures with {args.baseline} open",
                "full size": "the target's 10,000: --instances 10000",
            },
        )
        for name in few:
            ours, theirs = Summary.of(many[name]), Summary.of(few[name])
            ratio = ours.p50 / theirs.p50
            report.add(
                f"{name}: {args.instances} vs {args.baseline} open",
                ours,
                theirs,
                ratio=ratio,
                target="p50 ratio <= 1.3",
                met=ratio <= 1.3,
            )
        at_cache = _rss_near(rss, cache)
        full = rss[len(task_ids)]
        report.add(
            f"worker RSS MiB: {args.instances} open vs {cache} (cache full)",
            full,
            at_cache,
            ratio=full / at_cache,
            target="<= 1.1 once the cache is full",
            met=full / at_cache <= 1.1 if args.instances > cache else None,
            unit=" MiB",
        )
        done = Summary.of(drained.latencies)
        report.add(
            f"completeTask on {len(chosen)} random open instances",
            done,
            None,
            target="all land, no errors",
            met=not drained.errors and completed == len(chosen),
        )
        report.extra = {
            "worker RSS MiB by instances opened": rss,
            "worker RSS MiB after completing": rss_after,
            "opening rate (instances/s)": round((args.instances - args.baseline) / opening, 1),
            "completion rate (tasks/s)": round(drained.throughput, 1),
            "completed instances in PostgreSQL": completed,
            "completion errors": len(drained.errors),
            "first errors": drained.errors[:3],
        }
        return report


async def _instance_of(connection: Connection, task_id: str) -> str:
    data = await connection.graphql(
        "query($id: ID!) { task(id: $id) { instance { id } } }", {"id": task_id}
    )
    instance_id: str = data["task"]["instance"]["id"]
    return instance_id


def _rss_near(rss: dict[int, float], opened: int) -> float:
    """The RSS sample taken closest to `opened` instances (the last one if fewer opened)."""
    return rss[min(rss, key=lambda n: abs(n - opened))]


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
