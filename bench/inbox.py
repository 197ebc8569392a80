"""inbox: a 50-task inbox page with every nested field, GraphQL over HTTP vs the hand-written
SQL (one asyncpg query) served by a plain Starlette route with orjson, both on the same
uvicorn settings and measured over HTTP the same way, one request at a time, interleaved.

Targets: a constant number of SQL statements per page (<= 5, counted as
tests/test_inbox_statements.py counts them) and GraphQL p50 <= 4x raw p50.

    python -m bench.inbox [--tasks 1000] [--first 50] [--requests 400] [--warmup 50]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from api.embedded import free_port
from bench.http import Connection
from bench.inbox_data import INBOX_QUERY, fill, measure_pair
from bench.profile import sampled
from bench.report import Report, Summary
from bench.stack import Stack
from bench.statements import statements_per_request


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__)
    p.add_argument("--tasks", type=int, default=1000, help="tasks in the database (60 are mine)")
    p.add_argument("--first", type=int, default=50, help="page size")
    p.add_argument("--requests", type=int, default=400, help="measured requests per side")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured requests per side")
    p.add_argument("--temporal", choices=["memory", "wal"], default="memory")
    p.add_argument("--profile", action="store_true", help="sample the API with py-spy")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


async def run(args: argparse.Namespace) -> Report:
    async with Stack(temporal=args.temporal, keep=args.keep) as stack:
        fixture = await fill(stack, args.tasks)
        token = fixture.me.token
        counts = await statements_per_request(
            stack.settings, token, INBOX_QUERY, [{"first": 5}, {"first": args.first}]
        )
        api = await stack.start("api")
        raw_port = free_port()
        raw = await stack.start("raw", port=raw_port)
        async with (
            Connection("127.0.0.1", stack.settings.port, token) as graphql,
            Connection("127.0.0.1", raw_port, token) as hand,
        ):
            cpu = (api.cpu_seconds(), raw.cpu_seconds())
            scalars: list[float] = []
            with sampled(api.process.pid, "inbox-api", enabled=args.profile) as profile:
                ours, theirs = await measure_pair(
                    graphql,
                    hand,
                    first=args.first,
                    warmup=args.warmup,
                    requests=args.requests,
                    reference=scalars,
                )
            cpu_used = (api.cpu_seconds() - cpu[0], raw.cpu_seconds() - cpu[1])
        report = Report(
            "inbox_profiled" if args.profile else "inbox",
            {
                **stack.setting,
                "tasks in database": args.tasks,
                "page": f"{args.first} tasks, every nested field",
                "requests": f"{args.requests} per side after {args.warmup} warm-up, one at a time, interleaved",
                "server": "uvicorn 127.0.0.1, log_level=warning, one process each (bench.serve)",
                "raw side": "one asyncpg query, plain Starlette route, orjson (bench/raw_inbox.py)",
            },
        )
        g, r = Summary.of(ours), Summary.of(theirs)
        report.add(
            "page latency over HTTP (GraphQL vs raw)",
            g,
            r,
            ratio=g.p50 / r.p50,
            target="GraphQL p50 <= 4x raw p50",
            met=g.p50 <= 4 * r.p50,
        )
        s = Summary.of(scalars)
        report.add(
            "reference: GraphQL page of the 7 scalar columns only",
            s,
            r,
            ratio=s.p50 / r.p50,
            target="(GraphQL execution by itself)",
        )
        constant = counts[0] == counts[1]
        report.add(
            f"SQL statements per page (5 vs {args.first} tasks)",
            float(counts[1]),
            1.0,
            ratio=None,
            target="constant and <= 5",
            met=constant and counts[1] <= 5,
            unit="",
        )
        # The API also served the scalars-only reference pages.
        per_request = [
            cpu_used[0] / (2 * args.requests + args.warmup + 1) * 1000,
            cpu_used[1] / (args.requests + args.warmup + 1) * 1000,
        ]
        report.extra = {
            "statements": {"first=5": counts[0], f"first={args.first}": counts[1], "raw": 1},
            "server CPU per request (ms)": {
                "graphql (full and scalars-only pages alike)": round(per_request[0], 2),
                "raw": round(per_request[1], 2),
            },
        }
        if profile.summary:
            report.extra["profile of the API process (py-spy)"] = profile.summary
        return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
