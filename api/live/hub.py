"""One Redis pub/sub connection per API process, shared by all its subscriptions.

A notice only says "look again" (PostgreSQL is the source of truth), so the hub hands a
message to wake-up callbacks and nothing else. It subscribes to a channel while at least
one callback wants it and unsubscribes when the last one leaves, so Redis sends this
process only what someone here listens to.

While Redis is away the hub keeps reconnecting; when it is back (and on every connection,
the first included) it wakes every callback, because a notice sent while it was away, or
before a channel's subscription took effect, is lost for good: readers must look once
after the subscription is live, whatever they heard before."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Wake = Callable[[], None]


class Hub:
    def __init__(self, redis: Redis, anchor: str) -> None:
        # Subscribed for as long as the hub runs: a pub/sub connection with no channel
        # stops listening (redis-py ends `listen`), and this one must stay up to be shared.
        self._anchor = anchor
        self._redis = redis
        self._wakes: dict[str, Counter[Wake]] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        # (Un)subscriptions are sent by tasks of their own, one at a time and in order, so
        # that a channel left and wanted again ends subscribed.
        self._sending: set[asyncio.Task[None]] = set()
        self._send_order = asyncio.Lock()
        self.connected = False

    def add(self, channels: Iterable[str], wake: Wake) -> None:
        """Call `wake` on every notice of `channels` (and on every reconnection), until
        `remove` with the same arguments. Subscribing happens in the background."""
        new = []
        for channel in channels:
            counter = self._wakes.setdefault(channel, Counter())
            if not counter:
                new.append(channel)
            counter[wake] += 1
        self._start()
        if new:
            self._send("subscribe", new)

    def remove(self, channels: Iterable[str], wake: Wake) -> None:
        gone = []
        for channel in channels:
            counter = self._wakes.get(channel)
            if counter is None:
                continue
            counter[wake] -= 1
            if counter[wake] <= 0:
                del counter[wake]
            if not counter:
                del self._wakes[channel]
                gone.append(channel)
        if gone:
            self._send("unsubscribe", gone)

    @property
    def channels(self) -> int:
        """How many channels this process listens to (the anchor aside)."""
        return len(self._wakes)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-hub")

    def _send(self, command: str, channels: list[str]) -> None:
        """(Un)subscribe on the live connection. Without one, nothing to do: the next
        connection subscribes to whatever is wanted then."""
        pubsub = self._pubsub
        if pubsub is None or not self.connected:
            return

        async def send() -> None:
            try:
                async with self._send_order:
                    if command == "subscribe":
                        await pubsub.subscribe(*channels)
                    else:
                        await pubsub.unsubscribe(*channels)
            except (RedisError, OSError) as exc:
                # The listening loop sees the same failure and reconnects.
                log.info("could not %s %d channel(s): %s", command, len(channels), exc)

        # Keep a reference until it is done: the event loop holds tasks only weakly.
        task = asyncio.create_task(send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _wake(self, channel: str) -> None:
        for wake in list(self._wakes.get(channel, ())):
            wake()

    def _wake_all(self) -> None:
        for wake in {w for counter in self._wakes.values() for w in counter}:
            wake()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub()
            try:
                # Connected first: a channel wanted while this subscribe is on its way is
                # sent on its own rather than missed.
                self._pubsub = pubsub
                self.connected = True
                await pubsub.subscribe(self._anchor, *self._wakes)
                backoff = 0.1
                async for message in pubsub.listen():
                    kind = message["type"]
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    if kind == "message":
                        self._wake(channel)
                    elif kind == "subscribe":
                        # Live from now on: whatever was sent before it is not coming.
                        if channel == self._anchor:
                            self._wake_all()
                        else:
                            self._wake(channel)
            except (RedisError, OSError) as exc:
                log.info("event notifications unavailable (%s); retrying in %.1fs", exc, backoff)
            finally:
                self.connected = False
                self._pubsub = None
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            # Readers fall back to polling while the hub is away; wake them now so that
            # none waits for a notice that was lost with the connection.
            self._wake_all()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
