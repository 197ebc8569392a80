"""Resolvers of the inbox, the task lifecycle and the task event stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry import relay

from api.errors import BadUserInput
from api.services.event_log import LogPosition
from api.services.inbox import TaskOrder as Order
from api.services.inbox import TaskQuery
from engine.enums import TaskEventType
from schema.common import JSON, Ctx, build_connection, page_size
from schema.ids import decode_id
from schema.loaded_tasks import load_task_relations
from schema.tasks import Task, TaskComment, TaskCounts, TaskEvent, TaskFilter, TaskOrder


def _instant(value: datetime | None, field: str) -> datetime | None:
    """A point in time: a date without an offset would be read in the server's time zone."""
    if value is not None and value.utcoffset() is None:
        raise BadUserInput(f"{field} needs a time zone offset (e.g. Z or +02:00)", field=field)
    return value


def _query(f: TaskFilter | None) -> TaskQuery:
    if f is None:
        return TaskQuery()
    return TaskQuery(
        assigned_to_me=f.assigned_to_me,
        assignee_id=decode_id(f.assignee_id, "User", field="assigneeId") if f.assignee_id else None,
        unassigned=f.unassigned,
        candidate_for_me=f.candidate_for_me,
        statuses=tuple(f.status) if f.status else None,
        definition_key=f.definition_key,
        instance_id=decode_id(f.instance_id, "ProcessInstance", field="instanceId")
        if f.instance_id
        else None,
        business_key=f.business_key,
        name_contains=f.name_contains,
        priority_min=f.priority_min,
        priority_max=f.priority_max,
        due_before=_instant(f.due_before, "dueBefore"),
        due_after=_instant(f.due_after, "dueAfter"),
        created_before=_instant(f.created_before, "createdBefore"),
        created_after=_instant(f.created_after, "createdAfter"),
        overdue=f.overdue,
    )


async def tasks(
    info: Ctx,
    filter: TaskFilter | None = None,
    order_by: list[TaskOrder] | None = None,
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[Task]:
    principal = info.context.require_user()
    limit = page_size(first)
    order = tuple(Order(o.field, o.descending) for o in order_by or [])
    rows = await info.context.services.inbox.page(
        principal, _query(filter), order=order, after=after, limit=limit + 1
    )
    await load_task_relations(info, [task for task, _ in rows[:limit]])
    return build_connection(rows, limit, Task.from_row, has_previous=after is not None)


async def task_counts(info: Ctx) -> TaskCounts:
    counts = await info.context.services.inbox.counts(info.context.require_user())
    return TaskCounts(**counts)


async def task(info: Ctx, id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    return Task.from_row(await info.context.services.tasks.get(principal, decode_id(id, "Task")))


async def claim_task(info: Ctx, id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    return Task.from_row(await info.context.services.tasks.claim(principal, decode_id(id, "Task")))


async def unclaim_task(info: Ctx, id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    return Task.from_row(
        await info.context.services.tasks.unclaim(principal, decode_id(id, "Task"))
    )


async def assign_task(info: Ctx, id: strawberry.ID, user_id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.assign(
        principal, decode_id(id, "Task"), decode_id(user_id, "User", field="userId")
    )
    return Task.from_row(row)


async def delegate_task(info: Ctx, id: strawberry.ID, user_id: strawberry.ID) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.delegate(
        principal, decode_id(id, "Task"), decode_id(user_id, "User", field="userId")
    )
    return Task.from_row(row)


async def resolve_task(info: Ctx, id: strawberry.ID, variables: JSON | None = None) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.resolve(principal, decode_id(id, "Task"), variables)
    return Task.from_row(row)


async def set_task_priority(info: Ctx, id: strawberry.ID, priority: int) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.set_priority(principal, decode_id(id, "Task"), priority)
    return Task.from_row(row)


async def set_task_due_date(info: Ctx, id: strawberry.ID, due_at: datetime | None = None) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.set_due(
        principal, decode_id(id, "Task"), _instant(due_at, "dueAt")
    )
    return Task.from_row(row)


async def set_task_follow_up(
    info: Ctx, id: strawberry.ID, follow_up_at: datetime | None = None
) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.set_follow_up(
        principal, decode_id(id, "Task"), _instant(follow_up_at, "followUpAt")
    )
    return Task.from_row(row)


async def add_task_comment(info: Ctx, id: strawberry.ID, message: str) -> TaskComment:
    principal = info.context.require_user()
    row = await info.context.services.tasks.comment(principal, decode_id(id, "Task"), message)
    return TaskComment.from_row(row)


async def complete_task(info: Ctx, id: strawberry.ID, variables: JSON | None = None) -> Task:
    principal = info.context.require_user()
    row = await info.context.services.tasks.complete(principal, decode_id(id, "Task"), variables)
    return Task.from_row(row)


async def task_events(info: Ctx, since: str | None = None) -> AsyncGenerator[TaskEvent, None]:
    """Changes to tasks that concern the caller (as assignee, candidate or group member):
    after the cursor `since` when given, else from now; none lost, none repeated."""
    caller = info.context.require_caller()
    services = info.context.services
    async for event, row in services.live.task_events(
        caller, LogPosition.decode(since), info.context
    ):
        yield TaskEvent(
            type=TaskEventType(event.type.value),
            cursor=LogPosition.of(event).encode(),
            at=event.at,
            task=Task.from_row(row),
        )
