"""live_events: how soon a task event reaches another user's websocket, vs Redis alone.

One user starts instances of a one-task process and completes their tasks over GraphQL;
another user of the task's candidate group is subscribed to `taskEvents` over
graphql-transport-ws. Measured, one instance at a time:

- TASK_CREATED: from the event's own timestamp (`at`, the transition's time, taken in the
  workflow before its database write commits) to its arrival on the websocket;
- TASK_COMPLETED: from `completeTask` returning to the arrival (negative when the event
  arrives first: the worker publishes right after its commit, while the mutation still
  reads the task back), and from the event's `at` to the arrival;
- raw: a Redis PUBLISH to its arrival at a subscriber on the same Redis, same machine.

    python -m bench.live_events [--events 200] [--raw 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from bench.flows import complete, deploy, one_task_definition, start
from bench.http import Connection
from bench.report import Report, Summary
from bench.stack import Stack
from bench.ws import Subscription, subscribe

GROUP = "bench-live"
SUBSCRIPTION = "subscription { taskEvents { type at cursor task { id } } }"


class Arrivals:
    """Every event the watcher receives, with its arrival time, by (type, task id)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[float, float]] = {}
        self._changed = asyncio.Condition()

    async def read(self, subscription: Subscription) -> None:
        while True:
            payload = await subscription.next()
            arrived = time.time()
            event = payload["data"]["taskEvents"]
            at = datetime.fromisoformat(event["at"]).timestamp()
            async with self._changed:
                self.seen[(event["type"], event["task"]["id"])] = (at, arrived)
                self._changed.notify_all()

    async def wait(self, kind: str, task_id: str, within: float = 15.0) -> tuple[float, float]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: (kind, task_id) in self.seen)
            return self.seen[(kind, task_id)]


async def raw_redis(url: str, count: int, channel: str) -> list[float]:
    publisher, listener = Redis.from_url(url), Redis.from_url(url)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    latencies: list[float] = []
    try:
        for i in range(count + 20):
            sent = time.perf_counter()
            await publisher.publish(channel, orjson.dumps({"n": i, "sent": sent}))
            while True:
                message: dict[str, Any] | None = await pubsub.get_message(timeout=5.0)
                if message is not None:
                    break
            arrived = time.perf_counter()
            if i >= 20:  # warm-up
                latencies.append(arrived - orjson.loads(message["data"])["sent"])
            await asyncio.sleep(0.005)
    finally:
        await pubsub.aclose()
        await publisher.aclose()
        await listener.aclose()
    return latencies


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.live_events", description=__doc__)
    p.add_argument("--events", type=int, default=200, help="instances (one of each event)")
    p.add_argument("--raw", type=int, default=1000, help="raw Redis messages")
    p.add_argument("--warmup", type=int, default=10, help="unmeasured instances")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


async def run(args: argparse.Namespace) -> Report:
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        await stack.start("worker")
        await stack.start("api")
        actor = await stack.person(groups=[GROUP])
        watcher = await stack.person(groups=[GROUP])
        url = f"ws://127.0.0.1:{stack.settings.port}/graphql"
        created: list[float] = []
        completed_from_return: list[float] = []
        completed_from_at: list[float] = []
        arrivals = Arrivals()
        async with (
            Connection("127.0.0.1", stack.settings.port, actor.token) as connection,
            subscribe(url, SUBSCRIPTION, watcher.token) as subscription,
        ):
            reader = asyncio.create_task(arrivals.read(subscription))
            try:
                key = await deploy(connection, one_task_definition(GROUP))
                for i in range(args.warmup + args.events):
                    task_id = await start(connection, key)
                    at, arrived = await arrivals.wait("TASK_CREATED", task_id)
                    await asyncio.sleep(0.02)
                    await complete(connection, task_id)
                    returned = time.time()
                    done_at, done_arrived = await arrivals.wait("TASK_COMPLETED", task_id)
                    if i >= args.warmup:
                        created.append(arrived - at)
                        completed_from_return.append(done_arrived - returned)
                        completed_from_at.append(done_arrived - done_at)
                    await asyncio.sleep(0.02)
            finally:
                reader.cancel()
        raw = Summary.of(
            await raw_redis(
                stack.settings.redis_url, args.raw, stack.settings.event_channel_prefix + ":raw"
            )
        )
        report = Report(
            "live_events",
            {
                **stack.setting,
                "events": f"{args.events} instances after {args.warmup} warm-up, one at a time",
                "path": "worker commit -> Redis notice -> API reads history_events -> websocket",
                "clock": "event `at` is the transition's workflow time, stamped before its commit",
            },
        )
        c_created = Summary.of(created)
        c_return = Summary.of(completed_from_return)
        c_at = Summary.of(completed_from_at)
        report.add(
            "TASK_CREATED: event at -> websocket", c_created, raw, ratio=c_created.p50 / raw.p50
        )
        report.add("TASK_COMPLETED: event at -> websocket", c_at, raw, ratio=c_at.p50 / raw.p50)
        report.add(
            "TASK_COMPLETED: mutation returned -> websocket",
            c_return,
            raw,
            ratio=None,  # the event often arrives before the mutation returns
        )
        report.extra = {
            "p99 (ms)": {
                "TASK_CREATED from at": round(c_created.p99, 2),
                "TASK_COMPLETED from at": round(c_at.p99, 2),
                "TASK_COMPLETED from return": round(c_return.p99, 2),
                "raw redis": round(raw.p99, 3),
            },
            "raw redis": "PUBLISH -> subscriber on the same Redis, one at a time (theirs column)",
        }
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
