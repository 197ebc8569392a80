"""What a pooled connection's health check costs a read: N one-statement reads, each on
its own checkout, with no check, with the free check api.db does (has asyncpg seen the
server close the socket?), and with SQLAlchemy's pre-ping (a round trip per checkout).

`python -m bench.checkout [--reads N] [--database-url URL]`; results in
bench/results/checkout.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select

from api.db import create_engine, create_sessionmaker, reading
from api.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


async def per_read(engine: AsyncEngine, reads: int) -> float:
    """Microseconds per read, each read its own session and checkout, after a warm-up."""
    sessions = reading(create_sessionmaker(engine))
    for _ in range(100):
        async with sessions() as session:
            await session.exec(select(1))
    began = time.perf_counter()
    for _ in range(reads):
        async with sessions() as session:
            await session.exec(select(1))
    elapsed = time.perf_counter() - began
    await engine.dispose()
    return elapsed / reads * 1e6


async def main(reads: int, database_url: str) -> dict[str, float]:
    settings = Settings(database_url=database_url)
    # Alternated, best of three, so that neither side gets the machine's quiet moments.
    runs: dict[str, list[float]] = {"unchecked": [], "closed-check": [], "pre-ping": []}
    for _ in range(3):
        runs["unchecked"].append(
            await per_read(create_async_engine(database_url, pool_size=2), reads)
        )
        runs["closed-check"].append(await per_read(create_engine(settings), reads))
        runs["pre-ping"].append(
            await per_read(
                create_engine(settings.model_copy(update={"database_pre_ping": True})), reads
            )
        )
    figures = {name: min(values) for name, values in runs.items()}
    base = figures["unchecked"]
    for name, value in figures.items():
        print(f"{name:>13}: {value:7.1f} µs per read  ({value / base:.2f}x unchecked)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.checkout", description=__doc__)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    figures = asyncio.run(main(args.reads, args.database_url))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "checkout.json").write_text(json.dumps(figures, indent=2) + "\n")
