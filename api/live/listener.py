"""What a feed hands one subscriber: a bounded queue, read by that subscriber's socket."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from api.errors import FlowdeskError, SlowConsumer

T = TypeVar("T")


class Listener(Generic[T]):
    """Items in feed order. A consumer that lets `limit` items pile up is cut off (the
    feed never waits for it, nor keeps its backlog): it gets what was queued, then
    SLOW_CONSUMER, and resubscribes from the last cursor it received, losing nothing."""

    def __init__(self, limit: int) -> None:
        self._items: deque[T] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._end: FlowdeskError | None = None

    def put(self, item: T) -> None:
        if self._end is not None:
            return
        if len(self._items) >= self._limit:
            self.end(
                SlowConsumer(
                    f"more than {self._limit} events were waiting to be sent; "
                    "subscribe again with the last cursor received"
                )
            )
            return
        self._items.append(item)
        self._ready.set()

    def end(self, error: FlowdeskError) -> None:
        """Stop after what is queued, with `error`."""
        if self._end is None:
            self._end = error
        self._ready.set()

    async def get(self) -> T:
        while not self._items:
            if self._end is not None:
                raise self._end
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()
