"""Live notifications over Redis pub/sub.

PostgreSQL's history_events is the source of truth; Redis only tells listening API
processes, on any replica, that something happened. Publishing happens after the
commit, so a rolled-back change publishes nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.metrics import PUBLISH_FAILURES, PUBLISH_LAG
from engine.enums import HistoryEventType, TaskEventType

log = logging.getLogger(__name__)

TASK_EVENT_TYPES = frozenset(HistoryEventType(t.value) for t in TaskEventType)


@dataclass(frozen=True)
class Notice:
    """That a history event was committed, and to whom it matters.

    Subscribers treat it as a wake-up call and read PostgreSQL from their cursor, so a
    notice that never arrives (Redis restarting, say) delays an event but never loses it."""

    instance_id: uuid.UUID
    seq: int
    type: HistoryEventType
    user_ids: tuple[uuid.UUID, ...] = ()
    group_keys: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return orjson.dumps(
            {"instance_id": str(self.instance_id), "seq": self.seq, "type": self.type.value}
        )


async def connect_redis(url: str, name: str | None = None) -> Redis:
    """A Redis client that has answered once. Connecting at start-up also loads the modules
    redis-py imports on first use, which the workflow sandbox would otherwise see being
    imported while a workflow runs, and warn about. `name` is each connection's CLIENT
    SETNAME, so that an operator (and a test) can count a process's connections."""
    redis = Redis.from_url(url, client_name=name)
    await redis.ping()
    return redis


class EventBus:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def user_channel(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}:user:{user_id}"

    def group_channel(self, key: str) -> str:
        return f"{self._prefix}:group:{key}"

    def instance_channel(self, instance_id: uuid.UUID) -> str:
        return f"{self._prefix}:instance:{instance_id}"

    async def publish(self, notices: Iterable[Notice]) -> None:
        """Send each notice to its instance's channel and, for task events, to the
        channel of every user and group it concerns: one round trip in all.

        Called after the commit, so it never fails the change: without Redis, readers
        still find every event in PostgreSQL when they next look."""
        committed = time.perf_counter()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for notice in notices:
                    payload = notice.encode()
                    pipe.publish(self.instance_channel(notice.instance_id), payload)
                    if notice.type in TASK_EVENT_TYPES:
                        for user_id in notice.user_ids:
                            pipe.publish(self.user_channel(user_id), payload)
                        for key in notice.group_keys:
                            pipe.publish(self.group_channel(key), payload)
                if not len(pipe):
                    return  # nothing was written: no lag to tell
                await pipe.execute()
            PUBLISH_LAG.observe(time.perf_counter() - committed)
        except (RedisError, OSError) as exc:
            PUBLISH_FAILURES.inc()
            log.warning("notices not published (subscribers will poll): %s", exc)
