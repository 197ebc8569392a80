"""Resolvers of reports over history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.errors import BadUserInput
from engine.durations import parse_duration
from schema.common import Ctx
from schema.reports import DefinitionStats, ThroughputPoint

From = Annotated[datetime, strawberry.argument(name="from", description="Window start.")]
To = Annotated[datetime, strawberry.argument(description="Window end (excluded).")]


async def definition_stats(
    info: Ctx, key: str, since: From, to: To, version: int | None = None
) -> DefinitionStats:
    stats = await info.context.services.reports.definition_stats(
        info.context.require_user(), key, version, since, to
    )
    return DefinitionStats.of(stats)


async def throughput(
    info: Ctx, key: str, interval: str, since: From, to: To
) -> list[ThroughputPoint]:
    try:
        step = parse_duration(interval)
    except ValueError as exc:
        raise BadUserInput(str(exc), field="interval") from exc
    points = await info.context.services.reports.throughput(
        info.context.require_user(), key, step, since, to
    )
    return [ThroughputPoint(at=p.at, started=p.started, completed=p.completed) for p in points]
