"""fanout: one task event to every member of a large group, each with its own websocket.

N users in one group each hold one `taskEvents` subscription over graphql-transport-ws
against one API process; then one user starts an instance whose task is for that group,
and every socket must hear its TASK_CREATED. Measured at each size (the subscribers of
the previous size stay, more are added), `--rounds` events each:

- from the event's `at` (the transition's time, stamped in the workflow just before its
  commit) to the arrival on each socket, and from the `startProcess` request to it;
- the API process's CPU while every subscriber is idle (`--idle` seconds), and the RSS
  it added since before the first subscription;
- that every subscriber heard every event (a missing one fails the run);
- beside it, a raw Redis PUBLISH -> subscriber round trip on the same machine.

Users are inserted in bulk with one password hash (hashing thousands of passwords would
be the bench's own cost); their tokens are issued as `login` issues them.

    python -m bench.fanout [--sizes 1,100,1000,5000] [--rounds 5] [--idle 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from api.auth.passwords import hash_password
from api.auth.tokens import TokenIssuer
from bench.flows import deploy, one_task_definition
from bench.http import Connection
from bench.live_events import raw_redis
from bench.report import Report, Summary
from bench.stack import PASSWORD, Stack, asyncpg_dsn
from bench.ws import Subscription, subscribe

GROUP = "bench-fanout"
SUBSCRIPTION = "subscription { taskEvents { type at task { id } } }"
START = """mutation($k: String!) { startProcess(key: $k) { id tasks { id } } }"""


class Heard:
    """When each subscriber heard the TASK_CREATED of each task."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.at: dict[str, float] = {}
        self._changed = asyncio.Condition()

    async def read(self, subscription: Subscription) -> None:
        while True:
            payload = await subscription.next()
            arrived = time.time()
            event = payload["data"]["taskEvents"]
            if event["type"] != "TASK_CREATED":
                continue
            task_id = event["task"]["id"]
            async with self._changed:
                self.at[task_id] = datetime.fromisoformat(event["at"]).timestamp()
                self.arrivals.setdefault(task_id, []).append(arrived)
                self._changed.notify_all()

    async def all_of(self, task_id: str, count: int, within: float) -> list[float]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.arrivals.get(task_id, ())) >= count)
            return self.arrivals[task_id]


async def people(stack: Stack, count: int) -> list[str]:
    """`count` members of GROUP, inserted in one statement each way; their tokens."""
    password_hash = await hash_password(PASSWORD)
    ids = [uuid.uuid4() for _ in range(count)]
    connection = await asyncpg.connect(asyncpg_dsn(stack.settings.database_url))
    try:
        await connection.execute(
            "INSERT INTO groups (key) VALUES ($1) ON CONFLICT DO NOTHING", GROUP
        )
        await connection.executemany(
            "INSERT INTO users (id, username, password_hash, roles) VALUES ($1, $2, $3, '{}')",
            [(i, f"fan-{i.hex[:12]}", password_hash) for i in ids],
        )
        await connection.executemany(
            "INSERT INTO memberships (user_id, group_key) VALUES ($1, $2)",
            [(i, GROUP) for i in ids],
        )
    finally:
        await connection.close()
    tokens = TokenIssuer(stack.settings)
    return [tokens.issue(i, f"fan-{i.hex[:12]}") for i in ids]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    p.add_argument("--sizes", default="1,100,1000", help="subscriber counts, increasing")
    p.add_argument("--rounds", type=int, default=5, help="events measured at each size")
    p.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measured")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


async def run(args: argparse.Namespace) -> Report:
    sizes = [int(s) for s in args.sizes.split(",")]
    report = Report("fanout", {})
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        await stack.start("worker")
        api = await stack.start("api")
        actor = await stack.person(groups=[GROUP])
        url = f"ws://127.0.0.1:{stack.settings.port}/graphql"
        heard = Heard()
        readers: list[asyncio.Task[None]] = []
        extra: dict[str, object] = {}
        async with (
            contextlib.AsyncExitStack() as sockets,
            Connection("127.0.0.1", stack.settings.port, actor.token) as connection,
        ):
            key = await deploy(connection, one_task_definition(GROUP))
            await asyncio.sleep(1.0)
            rss_before = api.rss_mib()
            for size in sizes:
                for token in await people(stack, size - len(readers)):
                    subscription = await sockets.enter_async_context(
                        subscribe(url, SUBSCRIPTION, token)
                    )
                    readers.append(asyncio.create_task(heard.read(subscription)))
                # Every subscription live: all hear a first event (not measured).
                warm = (await connection.graphql(START, {"k": key}))["startProcess"]
                await heard.all_of(warm["tasks"][0]["id"], size, within=120)
                from_at: list[float] = []
                from_request: list[float] = []
                for _ in range(args.rounds):
                    requested = time.time()
                    started = (await connection.graphql(START, {"k": key}))["startProcess"]
                    task_id = started["tasks"][0]["id"]
                    arrivals = await heard.all_of(task_id, size, within=120)
                    from_at += [a - heard.at[task_id] for a in arrivals]
                    from_request += [a - requested for a in arrivals]
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2.0)
                cpu_before, began = api.cpu_seconds(), time.monotonic()
                await asyncio.sleep(args.idle)
                idle = (api.cpu_seconds() - cpu_before) / (time.monotonic() - began)
                rss_added = api.rss_mib() - rss_before
                at_summary = Summary.of(from_at)
                report.add(f"{size} subscribers: event at -> every socket", at_summary)
                report.add(
                    f"{size} subscribers: startProcess -> every socket", Summary.of(from_request)
                )
                extra[f"{size} subscribers"] = {
                    "heard": f"{len(from_at)} of {size * args.rounds}",
                    "p99 from at (ms)": round(at_summary.p99, 1),
                    "idle CPU of the API (% of a core)": round(idle * 100, 2),
                    "API RSS added (MiB)": round(rss_added, 1),
                }
                print(f"  {size}: {extra[f'{size} subscribers']}", flush=True)
            for reader in readers:
                reader.cancel()
        raw = Summary.of(
            await raw_redis(
                stack.settings.redis_url, 500, stack.settings.event_channel_prefix + ":raw"
            )
        )
        report.add("raw Redis PUBLISH -> subscriber", raw)
        report.setting = {
            **stack.setting,
            "api": "one process (bench.serve api)",
            "subscribers": "each its own websocket and user, all in one group, in the bench process",
            "events": f"{args.rounds} startProcess per size, one at a time, after one warm-up",
            "clock": "event `at` is the transition's workflow time, stamped before its commit",
        }
        report.extra = extra
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
