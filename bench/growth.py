"""growth: the same 50-task inbox page with 1,000 and with 200,000 tasks in the database.

My 60 open tasks stay the same; the tasks added are other people's (70% closed, 20% open for
other groups, 10% held by other users). The large size is measured twice: right after the
bulk insert and ANALYZE, and after VACUUM ANALYZE (as autovacuum leaves it): before the
inbox GIN indexes were created without a pending list, the first was 1.43x. Both servers are restarted for each measurement (fresh pools and prepared
statements); the raw route is measured beside GraphQL as a control for the database's share.

Target: GraphQL p50 at the large size <= 1.3x its p50 at the small size.

    python -m bench.growth [--small 1000] [--large 200000] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from api.embedded import free_port
from bench.http import Connection
from bench.inbox_data import add_others, fill, measure_pair
from bench.report import Report, Summary
from bench.stack import Stack


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    p.add_argument("--small", type=int, default=1000, help="tasks in the database first")
    p.add_argument("--large", type=int, default=200_000, help="tasks in the database then")
    p.add_argument("--first", type=int, default=50, help="page size")
    p.add_argument("--requests", type=int, default=300, help="measured requests per side")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured requests per side")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


async def measure(
    stack: Stack, token: str, args: argparse.Namespace
) -> tuple[list[float], list[float]]:
    api = await stack.start("api")
    raw_port = free_port()
    raw = await stack.start("raw", port=raw_port)
    try:
        async with (
            Connection("127.0.0.1", stack.settings.port, token) as graphql,
            Connection("127.0.0.1", raw_port, token) as hand,
        ):
            return await measure_pair(
                graphql, hand, first=args.first, warmup=args.warmup, requests=args.requests
            )
    finally:
        stack.stop(api)
        stack.stop(raw)


async def run(args: argparse.Namespace) -> Report:
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        fixture = await fill(stack, args.small)
        small = await measure(stack, fixture.me.token, args)
        await add_others(stack, args.small - 59, args.large - 60, vacuum=False)
        total = await stack.fetchval("SELECT count(*) FROM tasks")
        loaded = await measure(stack, fixture.me.token, args)
        await stack.sql("VACUUM ANALYZE tasks")
        large = await measure(stack, fixture.me.token, args)
        report = Report(
            "growth",
            {
                **stack.setting,
                "sizes": f"{args.small} then {total} tasks (60 mine, open)",
                "page": f"{args.first} tasks, every nested field, over HTTP",
                "requests": f"{args.requests} per side and size after {args.warmup} warm-up, interleaved",
            },
        )
        g_small, r_small = Summary.of(small[0]), Summary.of(small[1])
        for label, (graphql, raw) in (("vacuumed", large), ("just loaded", loaded)):
            g_large, r_large = Summary.of(graphql), Summary.of(raw)
            ratio = g_large.p50 / g_small.p50
            report.add(
                f"GraphQL: {total} ({label}) vs {args.small}",
                g_large,
                g_small,
                ratio=ratio,
                target="p50 ratio <= 1.3",
                met=ratio <= 1.3,
            )
            report.add(
                f"raw SQL: {total} ({label}) vs {args.small}",
                r_large,
                r_small,
                ratio=r_large.p50 / r_small.p50,
                target="(control)",
            )
        report.extra = {
            "just loaded": "right after the bulk insert and ANALYZE, before any VACUUM",
            "vacuumed": "after VACUUM ANALYZE, as autovacuum leaves it",
        }
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
