"""A reader shared by every subscriber of a process: it reads the log once per wake-up
and hands each subscriber its share in memory.

It reads when the hub rings, when rows it saw were held back (a transaction that may
still add rows before them is running), and once per IDLE_POLL whatever happens: a
notice lost while Redis was away, or a publisher that never reached Redis, delays an
event by that much at most, and the poll costs one statement per process, however many
subscribers it has. With no subscriber the reader stops, and costs nothing at all.

A read that fails (the database connection cut, the server restarting) is retried from
the same position, so nothing is lost; only when reads keep failing for LASTING_FAILURE
seconds are the subscribers told (UNAVAILABLE), to resubscribe with their cursors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from api.errors import FlowdeskError, Unavailable

log = logging.getLogger(__name__)

IDLE_POLL = 1.0
HELD_POLL = 0.05
RETRY = 0.5
LASTING_FAILURE = 30.0

T = TypeVar("T")

# What a lost database connection looks like through SQLAlchemy and asyncpg.
TRANSIENT = (SQLAlchemyError, OSError)


async def retried(read: Callable[[], Awaitable[T]]) -> T:
    """`read()`, retried while it fails for less than LASTING_FAILURE seconds."""
    began = time.monotonic()
    while True:
        try:
            return await read()
        except TRANSIENT as exc:
            if time.monotonic() - began > LASTING_FAILURE:
                raise Unavailable("the event log cannot be read; subscribe again later") from exc
            log.warning("event log read failed, retrying: %s", exc)
            await asyncio.sleep(RETRY)


class SharedReader(ABC):
    def __init__(self) -> None:
        # Held while reading and dispatching, and while a subscriber joins: a subscriber
        # joins between two reads, so it knows exactly from where the reader serves it.
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ring(self) -> None:
        """Read again as soon as possible."""
        self._wake.set()

    @abstractmethod
    def _idle(self) -> bool:
        """No subscriber left: stop reading."""

    @abstractmethod
    def _reset(self) -> None:
        """Forget the position: the next subscriber starts from the head again."""

    @abstractmethod
    async def _read(self, polled: bool) -> float:
        """Read and dispatch; how long to wait for a ring before the next read."""

    @abstractmethod
    def _end_all(self, error: FlowdeskError) -> None:
        """End every subscriber with `error`."""

    def _ensure_running(self) -> None:
        """Called under the lock by a joining subscriber."""
        if self._task is None or self._task.done():
            self._wake.set()
            self._task = asyncio.create_task(self._run(), name=type(self).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        wait = IDLE_POLL
        failing_since: float | None = None
        while True:
            polled = False
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                polled = True
            # Cleared before reading: a ring during the read makes the next one.
            self._wake.clear()
            async with self._lock:
                if self._idle():
                    self._reset()
                    return
                try:
                    wait = await self._read(polled)
                    failing_since = None
                except TRANSIENT as exc:
                    now = time.monotonic()
                    failing_since = failing_since or now
                    log.warning("event log read failed, retrying: %s", exc)
                    if now - failing_since > LASTING_FAILURE:
                        self._end_all(
                            Unavailable("the event log cannot be read; subscribe again later")
                        )
                    wait = RETRY
                except Exception:
                    # A bug, not an outage: end the streams (their clients resume from
                    # their cursors) rather than leave them waiting on a dead reader.
                    log.exception("event log reader failed")
                    self._end_all(FlowdeskError("the live stream failed; subscribe again"))
                    wait = RETRY
