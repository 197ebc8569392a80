"""Live notifications over Redis pub/sub.

PostgreSQL's history_events is the source of truth; Redis only tells listening API
processes, on any replica, that something happened. Publishing happens after the
commit, so a rolled-back change publishes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from engine.enums import HistoryEventType, TaskEventType

TASK_EVENT_TYPES = frozenset(HistoryEventType(t.value) for t in TaskEventType)


@dataclass(frozen=True)
class Notice:
    """One committed history event, with the people a task event concerns."""

    cursor: int
    instance_id: uuid.UUID
    seq: int
    type: HistoryEventType
    at: datetime
    node_id: str | None = None
    task_id: uuid.UUID | None = None
    data: dict[str, Any] | None = None
    user_ids: tuple[uuid.UUID, ...] = ()
    group_keys: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "cursor": self.cursor,
                "instance_id": str(self.instance_id),
                "seq": self.seq,
                "type": self.type.value,
                "at": self.at.isoformat(),
                "node_id": self.node_id,
                "task_id": str(self.task_id) if self.task_id else None,
                "data": self.data,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Notice:
        doc = orjson.loads(raw)
        return cls(
            cursor=doc["cursor"],
            instance_id=uuid.UUID(doc["instance_id"]),
            seq=doc["seq"],
            type=HistoryEventType(doc["type"]),
            at=datetime.fromisoformat(doc["at"]),
            node_id=doc["node_id"],
            task_id=uuid.UUID(doc["task_id"]) if doc["task_id"] else None,
            data=doc["data"],
        )


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
        channel of every user and group it concerns: one round trip in all."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for notice in notices:
                payload = notice.encode()
                pipe.publish(self.instance_channel(notice.instance_id), payload)
                if notice.type in TASK_EVENT_TYPES:
                    for user_id in notice.user_ids:
                        pipe.publish(self.user_channel(user_id), payload)
                    for key in notice.group_keys:
                        pipe.publish(self.group_channel(key), payload)
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, channels: Iterable[str]) -> AsyncIterator[AsyncIterator[Notice]]:
        """Subscribed on entry, so that a caller can read what it missed from PostgreSQL
        afterwards without a gap; yields the notices on any of the channels."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(*channels)
        try:
            yield _notices(pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]


async def _notices(pubsub: PubSub) -> AsyncIterator[Notice]:
    async for message in pubsub.listen():
        if message["type"] == "message":
            yield Notice.decode(message["data"])
