"""The whole embedded stack under one home."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from api.embedded.postgres import EmbeddedPostgres
from api.embedded.processes import Service
from api.embedded.redis import EmbeddedRedis
from api.embedded.temporal import TemporalDevServer


@dataclass(frozen=True)
class StackUrls:
    """Where a started stack answers: the FLOWDESK_*_URL / _ADDRESS settings of a process."""

    database_url: str
    redis_url: str
    temporal_address: str
    # Temporal's web UI, when the stack runs it.
    temporal_ui_url: str | None = None


class EmbeddedStack(Service):
    """PostgreSQL, Redis and Temporal under one home: home/pg, home/redis, home/temporal.db."""

    def __init__(
        self, home: Path, *, temporal_in_memory: bool = False, temporal_ui: bool = False
    ) -> None:
        self.home = home.resolve()
        self.postgres = EmbeddedPostgres(self.home)
        self.redis = EmbeddedRedis(self.home)
        self.temporal = TemporalDevServer(None if temporal_in_memory else self.home, ui=temporal_ui)

    async def start(self) -> StackUrls:
        try:
            return StackUrls(
                database_url=await self.postgres.start(),
                redis_url=await self.redis.start(),
                temporal_address=await self.temporal.start(),
                temporal_ui_url=self.temporal.ui_url,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Reverse order of start; ExitStack goes on with the others if one raises.
        with contextlib.ExitStack() as stops:
            stops.callback(self.postgres.stop)
            stops.callback(self.redis.stop)
            stops.callback(self.temporal.stop)
