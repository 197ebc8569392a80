"""The live streams a subscription serves: what it missed, then the shared feed.

A subscriber joins its feed first, which tells it the position the feed serves it from
(every event after it reaches its queue). If it resumes from an older cursor, it reads
the events between its cursor and that position on its own, then takes its queue: no
event is missed between the two, and none comes twice. A cursor ahead of the feed (one
given by another replica, further along) is skipped up to."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from api.auth.caller import Caller
from api.auth.principal import Principal
from api.errors import FlowdeskError
from api.events import EventBus
from api.live.hub import Hub
from api.live.instance_feed import InstanceFeed
from api.live.quota import Quota
from api.live.reader import retried
from api.live.task_feed import TaskFeed
from api.metrics import DELIVERY_LAG, SUBSCRIPTIONS_OPEN
from api.models import HistoryEvent
from api.services.event_log import PAGE, EventLog, LogPosition, TaskEventRow


class Live:
    def __init__(
        self, hub: Hub, log: EventLog, bus: EventBus, quota: Quota, queue_limit: int
    ) -> None:
        self.hub = hub
        self._log = log
        self._quota = quota
        self._limit = queue_limit
        self.tasks = TaskFeed(hub, log, bus)
        self.instances = InstanceFeed(hub, log, bus)

    async def task_events(
        self, caller: Caller, since: LogPosition | None, socket: object
    ) -> AsyncIterator[TaskEventRow]:
        """Every task event that concerned the caller after `since` (or from now), in log
        order, each once, with its task; then the live ones as they commit. `socket`
        stands for the connection, to count its subscriptions.

        When the caller's groups change, the stream follows: it joins the feed again as
        the caller is now and reads what it missed from its last event on with the new
        audience, so a group left stops at once and a group joined starts from there."""
        with (
            self._quota.taken(caller.principal.id, socket),
            SUBSCRIPTIONS_OPEN.labels("task").track_inprogress(),
        ):
            last = since
            while True:
                principal = caller.principal
                try:
                    async for item in self._task_events(caller, principal, last):
                        last = LogPosition.of(item[0])
                        yield item
                except _Changed as changed:
                    last = changed.position if last is None else last

    async def _task_events(
        self, caller: Caller, principal: Principal, since: LogPosition | None
    ) -> AsyncIterator[TaskEventRow]:
        async with self.tasks.joined(principal, self._limit) as (listener, joined_at):
            last = since or joined_at
            with caller.watched(lambda: listener.end(_Changed("caller changed"))):
                _check(caller, principal, last)  # a change while joining
                while last < joined_at:
                    rows = await retried(
                        functools.partial(self._log.task_events_of, principal, last, joined_at)
                    )
                    for event, task in rows:
                        _check(caller, principal, last)
                        last = LogPosition.of(event)
                        yield event, task
                    if len(rows) < PAGE:
                        break
                last = max(last, joined_at)
                while True:
                    try:
                        event, task = await listener.get()
                    except _Changed:
                        raise _Changed("caller changed", position=last) from None
                    _check(caller, principal, last)
                    if LogPosition.of(event) > last:
                        DELIVERY_LAG.labels("task").observe(_age(event))
                        yield event, task

    async def instance_events(
        self,
        caller: Caller,
        instance_id: uuid.UUID,
        since: int,
        socket: object,
        readable: Callable[[Principal], Awaitable[object]],
        checked: Principal,
    ) -> AsyncIterator[HistoryEvent]:
        """One instance's events after seq `since`, then live ones, in seq order. When
        the caller's groups or roles change, `readable(principal)` is asked again, and
        its refusal ends the stream. `checked` is the principal that the caller was
        found to read it as."""
        with (
            self._quota.taken(caller.principal.id, socket),
            SUBSCRIPTIONS_OPEN.labels("instance").track_inprogress(),
        ):
            last = since
            while True:
                principal = caller.principal
                if principal is not checked:
                    await readable(principal)
                    checked = principal
                try:
                    async for row in self._instance_events(caller, principal, instance_id, last):
                        last = row.seq
                        yield row
                except _Changed:
                    pass

    async def _instance_events(
        self, caller: Caller, principal: Principal, instance_id: uuid.UUID, since: int
    ) -> AsyncIterator[HistoryEvent]:
        async with self.instances.joined(instance_id, since, self._limit) as (listener, joined_at):
            last = since
            with caller.watched(lambda: listener.end(_Changed("caller changed"))):
                _check(caller, principal, None)  # a change while joining
                while last < joined_at:
                    rows = await retried(
                        functools.partial(
                            self._log.instance_events, [(instance_id, last)], joined_at
                        )
                    )
                    for row in rows:
                        _check(caller, principal, None)
                        last = row.seq
                        yield row
                    if len(rows) < PAGE:
                        break
                last = max(last, joined_at)
                while True:
                    row = await listener.get()
                    _check(caller, principal, None)
                    if row.seq > last:
                        DELIVERY_LAG.labels("instance").observe(_age(row))
                        yield row

    async def close(self) -> None:
        await self.tasks.close()
        await self.instances.close()
        await self.hub.close()


def _age(event: HistoryEvent) -> float:
    """Seconds since the event happened, as it is handed to the subscriber's socket (what
    was missed and read on resuming is not live, and not measured)."""
    return (datetime.now(UTC) - event.at).total_seconds()


class _Changed(FlowdeskError):
    """The caller's principal changed: the stream joins again as the caller is now, from
    `position` (its last event, or where it joined when it had none yet)."""

    def __init__(self, message: str, position: LogPosition | None = None) -> None:
        super().__init__(message)
        self.position = position


def _check(caller: Caller, principal: Principal, position: LogPosition | None) -> None:
    """Before handing an event over: if the caller changed since the stream joined, the
    event is read again with the caller as it is now (or not at all)."""
    if caller.principal is not principal:
        raise _Changed("caller changed", position=position)
