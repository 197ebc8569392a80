"""Resolvers of process instances."""

from __future__ import annotations

import strawberry

from api.errors import Forbidden
from schema.common import JSON, Ctx
from schema.ids import decode_id
from schema.instances import ProcessInstance


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
    principal = info.context.require_user()
    instances = info.context.services.instances
    row = await instances.get(decode_id(id, "ProcessInstance"))
    if row.id not in await instances.visible(principal, [row]):
        raise Forbidden("this process instance is not yours to see")
    return ProcessInstance.from_row(row)
