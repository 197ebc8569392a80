"""Resolvers of the inbox, the task lifecycle and the task event stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry import relay

from api.cursors import decode_cursor, encode_cursor
from api.errors import BadUserInput
from api.services.event_log import LogPosition
from engine.enums import TaskEventType
from schema.common import JSON, Ctx, build_connection, page_size
from schema.ids import decode_id
from schema.tasks import Task, TaskEvent


async def tasks(
    info: Ctx, first: int | None = None, after: str | None = None
) -> relay.Connection[Task]:
    principal = info.context.require_user()
    limit = page_size(first)
    position = None
    if after is not None:
        created_at, task_id = decode_cursor(after, 2)
        try:
            position = (datetime.fromisoformat(created_at), uuid.UUID(task_id))
        except (TypeError, ValueError) as exc:
            raise BadUserInput("invalid cursor", field="after") from exc
    rows = await info.context.services.tasks.inbox(principal, after=position, limit=limit + 1)
    return build_connection(
        rows,
        limit,
        Task.from_row,
        lambda t: encode_cursor(t.created_at.isoformat(), str(t.id)),
        has_previous=after is not None,
    )


async def task(info: Ctx, id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    return Task.from_row(await info.context.services.tasks.get(principal, decode_id(id, "Task")))


async def claim_task(info: Ctx, id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    return Task.from_row(await info.context.services.tasks.claim(principal, decode_id(id, "Task")))


async def complete_task(info: Ctx, id: strawberry.ID, variables: JSON | None = None) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.complete(principal, decode_id(id, "Task"), variables)
    return Task.from_row(row)


async def task_events(info: Ctx, since: str | None = None) -> AsyncGenerator[TaskEvent, None]:
    """Changes to tasks that concern the caller (as assignee, candidate or group member):
    after the cursor `since` when given, else from now; none lost, none repeated."""
    principal = info.context.require_user()
    services = info.context.services
    position = LogPosition.decode(since) if since is not None else None
    async for event in services.event_log.task_events(principal, position):
        assert event.task_id is not None
        [row] = await services.tasks.by_ids([event.task_id])
        assert row is not None
        yield TaskEvent(
            type=TaskEventType(event.type.value),
            cursor=LogPosition.of(event).encode(),
            at=event.at,
            task=Task.from_row(row),
        )
