"""The one reader of task events of an API process.

Each read takes everyone's new task events after the feed's position, with their tasks,
in one statement, and gives each to the subscribers in its audience (as fixed when it
was written: its users, and the members of its groups), found through indexes by user
and by group: what a read costs follows the events, not the subscribers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from api.auth.principal import Principal
from api.errors import FlowdeskError
from api.events import EventBus
from api.live.hub import Hub
from api.live.listener import Listener
from api.live.reader import HELD_POLL, IDLE_POLL, SharedReader, retried
from api.models import HistoryEvent
from api.services.event_log import PAGE, EventLog, LogPosition, TaskEventRow

K = TypeVar("K")


class TaskFeed(SharedReader):
    def __init__(self, hub: Hub, log: EventLog, bus: EventBus) -> None:
        super().__init__()
        self._hub = hub
        self._log = log
        self._bus = bus
        self._position: LogPosition | None = None
        self._by_user: dict[uuid.UUID, set[Listener[TaskEventRow]]] = {}
        self._by_group: dict[str, set[Listener[TaskEventRow]]] = {}
        self._listeners: set[Listener[TaskEventRow]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._listeners)

    @asynccontextmanager
    async def joined(
        self, principal: Principal, limit: int
    ) -> AsyncIterator[tuple[Listener[TaskEventRow], LogPosition]]:
        """A listener for what concerns `principal`, and the position it is served from:
        every task event after it reaches the listener, none before it."""
        listener: Listener[TaskEventRow] = Listener(limit)
        channels = [self._bus.user_channel(principal.id)]
        channels += [self._bus.group_channel(g) for g in sorted(principal.groups)]
        async with self._lock:
            if self._position is None:
                self._position = await retried(self._log.head)
            joined_at = self._position
            self._listeners.add(listener)
            self._by_user.setdefault(principal.id, set()).add(listener)
            for group in principal.groups:
                self._by_group.setdefault(group, set()).add(listener)
            self._ensure_running()
        self._hub.add(channels, self.ring)
        try:
            yield listener, joined_at
        finally:
            self._hub.remove(channels, self.ring)
            self._listeners.discard(listener)
            _discard(self._by_user, principal.id, listener)
            for group in principal.groups:
                _discard(self._by_group, group, listener)

    def _audience(self, event: HistoryEvent) -> set[Listener[TaskEventRow]]:
        found: set[Listener[TaskEventRow]] = set()
        for user_id in event.audience_users:
            found |= self._by_user.get(user_id, set())
        for group in event.audience_groups:
            found |= self._by_group.get(group, set())
        return found

    def _idle(self) -> bool:
        return not self._listeners

    def _reset(self) -> None:
        self._position = None

    def _end_all(self, error: FlowdeskError) -> None:
        for listener in self._listeners:
            listener.end(error)

    async def _read(self, polled: bool) -> float:
        assert self._position is not None
        rows, held = await self._log.settled_task_events(self._position)
        for event, task in rows:
            self._position = LogPosition.of(event)
            for listener in self._audience(event):
                listener.put((event, task))
        if held:
            return HELD_POLL
        return 0.0 if len(rows) == PAGE else IDLE_POLL


def _discard(
    index: dict[K, set[Listener[TaskEventRow]]], key: K, listener: Listener[TaskEventRow]
) -> None:
    found = index.get(key)
    if found is not None:
        found.discard(listener)
        if not found:
            del index[key]
