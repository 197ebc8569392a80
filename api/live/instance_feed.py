"""The one reader of instance traces of an API process.

It follows every instance that someone in the process subscribes to, each from its own
seq, and reads the rung ones (all of them on the idle poll) in one statement."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.errors import FlowdeskError
from api.events import EventBus
from api.live.hub import Hub, Wake
from api.live.listener import Listener
from api.live.reader import IDLE_POLL, SharedReader
from api.models import HistoryEvent
from api.services.event_log import PAGE, EventLog


class InstanceFeed(SharedReader):
    def __init__(self, hub: Hub, log: EventLog, bus: EventBus) -> None:
        super().__init__()
        self._hub = hub
        self._log = log
        self._bus = bus
        self._seqs: dict[uuid.UUID, int] = {}
        self._listeners: dict[uuid.UUID, set[Listener[HistoryEvent]]] = {}
        self._wakes: dict[uuid.UUID, Wake] = {}
        self._rung: set[uuid.UUID] = set()

    @asynccontextmanager
    async def joined(
        self, instance_id: uuid.UUID, since: int, limit: int
    ) -> AsyncIterator[tuple[Listener[HistoryEvent], int]]:
        """A listener for one instance's events, and the seq it is served after."""
        listener: Listener[HistoryEvent] = Listener(limit)
        channel = [self._bus.instance_channel(instance_id)]
        async with self._lock:
            joined_at = self._seqs.setdefault(instance_id, since)
            followers = self._listeners.setdefault(instance_id, set())
            followers.add(listener)
            if len(followers) == 1:
                self._wakes[instance_id] = wake = self._ringer(instance_id)
                self._hub.add(channel, wake)
                wake()
            self._ensure_running()
        try:
            yield listener, joined_at
        finally:
            followers.discard(listener)
            if not followers:
                del self._listeners[instance_id], self._seqs[instance_id]
                self._hub.remove(channel, self._wakes.pop(instance_id))
                self._rung.discard(instance_id)

    def _ringer(self, instance_id: uuid.UUID) -> Wake:
        def wake() -> None:
            self._rung.add(instance_id)
            self.ring()

        return wake

    def _idle(self) -> bool:
        return not self._listeners

    def _reset(self) -> None:
        self._rung.clear()

    def _end_all(self, error: FlowdeskError) -> None:
        for followers in self._listeners.values():
            for listener in followers:
                listener.end(error)

    async def _read(self, polled: bool) -> float:
        targets = set(self._seqs) if polled else self._rung & set(self._seqs)
        # Taken before reading: a ring during the read is for the next one.
        self._rung = set()
        if not targets:
            return IDLE_POLL
        rows = await self._log.instance_events([(i, self._seqs[i]) for i in targets])
        for row in rows:
            # Its last subscriber may have left while the statement ran.
            if row.instance_id in self._listeners:
                self._seqs[row.instance_id] = row.seq
                for listener in self._listeners[row.instance_id]:
                    listener.put(row)
        if len(rows) == PAGE:
            self._rung |= targets
            return 0.0
        return IDLE_POLL
