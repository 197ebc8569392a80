"""Resolvers of archived instances."""

from __future__ import annotations

from strawberry import relay

from schema.archive import ArchivedInstance
from schema.common import Ctx, build_connection, page_size


async def archived_instances(
    info: Ctx, definition_key: str | None = None, first: int | None = None, after: str | None = None
) -> relay.Connection[ArchivedInstance]:
    limit = page_size(first)
    rows = await info.context.services.archive.page(
        info.context.require_user(),
        definition_key=definition_key,
        after=after,
        limit=limit + 1,
    )
    return build_connection(rows, limit, ArchivedInstance.from_row, has_previous=after is not None)
