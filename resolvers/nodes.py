"""The Relay `node(id)` entry point: any object by its global id."""

from __future__ import annotations

import inspect
import uuid
from typing import Any, cast

import strawberry
from strawberry import relay

from api.errors import BadUserInput
from schema.common import Ctx


async def node(info: Ctx, id: strawberry.ID) -> relay.Node | None:
    """The object, or null when it does not exist or the caller may not see it."""
    info.context.require_user()
    try:
        gid = relay.GlobalID.from_id(id)
        uuid.UUID(gid.node_id)
        node_type = cast(Any, gid.resolve_type(info))
    except (ValueError, TypeError, KeyError) as exc:
        raise BadUserInput(f"'{id}' is not a global id", field="id") from exc
    if not (isinstance(node_type, type) and issubclass(node_type, relay.Node)):
        raise BadUserInput(f"'{id}' is not a global id", field="id")
    found = node_type.resolve_nodes(info=info, node_ids=[gid.node_id])
    [result] = await found if inspect.isawaitable(found) else found
    return result
