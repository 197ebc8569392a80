"""reports: definitionStats and throughput over a small and a large history.

The same questions (one day, one month) asked of 10,000 history rows and of 1,000,000
(5,000 and 500,000 finished instances, half of them of the reported definition), through
the report service in process (no HTTP), each in its own fresh database.

Target: at 1,000,000 history rows, one month's definitionStats p50 within a second.

    python -m bench.reports [--small 5000] [--large 500000] [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from api.auth.principal import ADMIN_ROLE, Principal
from api.db import create_engine, create_sessionmaker
from api.embedded import drop_database, ensure_database
from api.migrate import upgrade
from api.services.reports import ReportService
from api.settings import Settings
from bench.history_data import EPOCH, REPORTED, history_fill
from bench.report import Report, Summary
from bench.stack import LOCAL_POSTGRES

ADMIN = Principal(uuid.uuid4(), "admin", frozenset(), frozenset({ADMIN_ROLE}))
WINDOWS = {"a day": timedelta(days=1), "a month": timedelta(days=30)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    p.add_argument("--small", type=int, default=5_000, help="finished instances, small history")
    p.add_argument("--large", type=int, default=500_000, help="finished instances, large history")
    p.add_argument("--requests", type=int, default=20, help="measured calls per question")
    return p


async def _timed(call: Callable[[], Awaitable[object]], requests: int) -> Summary:
    await call()  # warm: pool, prepared statements
    seconds = []
    for _ in range(requests):
        began = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - began)
    return Summary.of(seconds)


async def measure(instances: int, requests: int) -> dict[str, Summary]:
    name = f"flowdesk_bench_reports_{secrets.token_hex(4)}"
    url = await ensure_database(LOCAL_POSTGRES, name)
    try:
        await upgrade(url)
        engine = create_engine(Settings(database_url=url))
        try:
            began = time.monotonic()
            async with engine.begin() as connection:
                for statement in history_fill(instances):
                    await connection.exec_driver_sql(statement)
            print(f"  {2 * instances:,} history rows written in {time.monotonic() - began:.0f}s")
            reports = ReportService(create_sessionmaker(engine))
            since = EPOCH + timedelta(days=5)
            found = {}
            for label, width in WINDOWS.items():
                until = since + width
                stats = functools.partial(reports.definition_stats, ADMIN, REPORTED, None)
                hourly = functools.partial(reports.throughput, ADMIN, REPORTED, timedelta(hours=1))
                found[f"definitionStats, {label}"] = await _timed(
                    functools.partial(stats, since, until), requests
                )
                found[f"throughput hourly, {label}"] = await _timed(
                    functools.partial(hourly, since, until), requests
                )
            return found
        finally:
            await engine.dispose()
    finally:
        await drop_database(LOCAL_POSTGRES, name)


async def run(args: argparse.Namespace) -> Report:
    report = Report(
        "reports",
        {
            "postgres": "local 127.0.0.1:5432",
            "sizes": f"{2 * args.small:,} and {2 * args.large:,} history rows",
            "calls": "ReportService in process, no HTTP",
        },
    )
    small = await measure(args.small, args.requests)
    large = await measure(args.large, args.requests)
    for name, summary in large.items():
        month = name == "definitionStats, a month"
        report.add(
            name,
            summary,
            small[name],
            ratio=summary.p50 / small[name].p50,
            target="p50 <= 1000 ms" if month else "",
            met=summary.p50 <= 1000 if month else None,
        )
    return report


def main(argv: Sequence[str] | None = None) -> None:
    report = asyncio.run(run(parser().parse_args(argv)))
    report.print()
    report.write()


if __name__ == "__main__":
    main()
