"""Resolvers of process instances."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api import models
from api.errors import Forbidden
from schema.common import JSON, Ctx
from schema.ids import decode_id
from schema.instances import InstanceEvent, ProcessInstance


async def start_process(
    info: Ctx,
    key: str,
    version: int | None = None,
    business_key: str | None = None,
    variables: JSON | None = None,
) -> ProcessInstance:
    principal = info.context.require_user()
    row = await info.context.services.instances.start(
        key, version=version, business_key=business_key, variables=variables, initiator=principal
    )
    return ProcessInstance.from_row(row)


async def process_instance(info: Ctx, id: strawberry.ID) -> ProcessInstance:
    return ProcessInstance.from_row(await _readable(info, id))


async def _readable(info: Ctx, id: strawberry.ID) -> models.ProcessInstance:
    principal = info.context.require_user()
    instances = info.context.services.instances
    row = await instances.get(decode_id(id, "ProcessInstance"))
    if row.id not in await instances.visible(principal, [row]):
        raise Forbidden("this process instance is not yours to see")
    return row


async def instance_events(
    info: Ctx, id: strawberry.ID, since: int | None = None
) -> AsyncGenerator[InstanceEvent, None]:
    """One instance's trace as it happens: after seq `since` when given, else from now."""
    row = await _readable(info, id)
    start = row.last_seq if since is None else since
    async for event in info.context.services.event_log.instance_events(row.id, start):
        yield InstanceEvent.from_row(event)
