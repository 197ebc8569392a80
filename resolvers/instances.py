"""Resolvers of process instances."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from strawberry import relay

from api.auth.principal import Principal
from api.services.instance_control import InstanceControl
from schema.common import JSON, Ctx, build_connection, page_size
from schema.ids import decode_id
from schema.instances import InstanceEvent, ProcessInstance, ProcessInstanceFilter


async def start_process(
    info: Ctx,
    key: str,
    version: int | None = None,
    business_key: str | None = None,
    variables: JSON | None = None,
    request_id: Annotated[
        str | None,
        strawberry.argument(
            description="An idempotency key of the caller's: a retry with the same key "
            "returns the instance the first call started, and starts no other."
        ),
    ] = None,
) -> ProcessInstance:
    principal = info.context.require_user()
    row = await info.context.services.instances.start(
        key,
        version=version,
        business_key=business_key,
        variables=variables,
        initiator=principal,
        request_id=request_id,
    )
    return ProcessInstance.from_row(row)


async def process_instance(info: Ctx, id: strawberry.ID) -> ProcessInstance:
    row = await info.context.services.instances.readable(
        info.context.require_user(), decode_id(id, "ProcessInstance")
    )
    return ProcessInstance.from_row(row)


async def instance_events(
    info: Ctx, id: strawberry.ID, since: int | None = None
) -> AsyncGenerator[InstanceEvent, None]:
    """One instance's trace as it happens: after seq `since` when given, else from now."""
    caller = info.context.require_caller()
    instances = info.context.services.instances
    principal = caller.principal
    row = await instances.trace_readable(principal, decode_id(id, "ProcessInstance"))
    start = row.last_seq if since is None else since
    async for event in info.context.services.live.instance_events(
        caller,
        row.id,
        start,
        info.context,
        readable=lambda now: instances.trace_readable(now, row.id),
        checked=principal,
    ):
        yield InstanceEvent.from_row(event)


async def process_instances(
    info: Ctx,
    filter: ProcessInstanceFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[ProcessInstance]:
    principal = info.context.require_user()
    limit = page_size(first)
    f = filter or ProcessInstanceFilter()
    rows = await info.context.services.instances.page(
        principal,
        statuses=f.status,
        definition_key=f.definition_key,
        business_key=f.business_key,
        started_by_me=f.started_by_me,
        after=after,
        limit=limit + 1,
    )
    return build_connection(rows, limit, ProcessInstance.from_row, has_previous=after is not None)


def _control(info: Ctx) -> tuple[Principal, InstanceControl]:
    return info.context.require_user(), info.context.services.control


async def suspend_instance(
    info: Ctx, id: strawberry.ID, reason: str | None = None
) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(await control.suspend(principal, _id(id), reason))


async def resume_instance(info: Ctx, id: strawberry.ID) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(await control.resume(principal, _id(id)))


async def cancel_instance(
    info: Ctx, id: strawberry.ID, reason: str | None = None
) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(await control.cancel(principal, _id(id), reason))


async def terminate_instance(
    info: Ctx, id: strawberry.ID, reason: str | None = None
) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(await control.terminate(principal, _id(id), reason))


async def set_instance_variables(info: Ctx, id: strawberry.ID, variables: JSON) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(await control.set_variables(principal, _id(id), variables))


async def retry_incident(info: Ctx, instance_id: strawberry.ID) -> ProcessInstance:
    principal, control = _control(info)
    return ProcessInstance.from_row(
        await control.retry_incident(principal, _id(instance_id, "instanceId"))
    )


async def send_message(
    info: Ctx,
    name: str,
    instance_id: strawberry.ID | None = None,
    business_key: str | None = None,
    variables: JSON | None = None,
) -> ProcessInstance:
    principal, control = _control(info)
    row = await control.send_message(
        principal,
        instance_id=_id(instance_id, "instanceId") if instance_id is not None else None,
        business_key=business_key,
        name=name,
        variables=variables,
    )
    return ProcessInstance.from_row(row)


def _id(value: strawberry.ID, field: str = "id") -> uuid.UUID:
    return decode_id(value, "ProcessInstance", field=field)
