"""GraphQL types of archived instances."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Self

import strawberry
from strawberry import relay

from api import models
from schema.common import JSON, Ctx, InstanceStatus
from schema.definitions import ProcessDefinition
from schema.ids import encode_id
from schema.instances import HistoryEvent, load_definition
from schema.users import User, load_user


@strawberry.type(
    description="A finished instance moved out of the live tables by `flowdesk archive`; "
    "`flowdesk restore-archive` puts it back under the same id."
)
class ArchivedInstance(relay.Node):
    id: relay.NodeID[str]
    row: strawberry.Private[models.ArchivedInstance]
    instance_id: strawberry.ID = strawberry.field(
        description="The instance's own global id, as before archiving and after a restore."
    )
    status: InstanceStatus = strawberry.field(description="How it ended.")
    business_key: str | None = strawberry.field(description="The caller's own reference.")
    variables: JSON = strawberry.field(description="Its variables when it ended.")
    started_at: datetime = strawberry.field(description="When it started.")
    ended_at: datetime = strawberry.field(description="When it ended.")
    archived_at: datetime = strawberry.field(description="When it was archived.")

    @strawberry.field(
        description="The definition version it ran; null when the caller may not read it.",
        graphql_type=ProcessDefinition | None,
    )
    def definition(
        self, info: Ctx
    ) -> ProcessDefinition | Awaitable[ProcessDefinition | None] | None:
        return load_definition(info, self.row.definition_id)

    @strawberry.field(description="Who started it.", graphql_type=User | None)
    def started_by(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.row.started_by)

    @strawberry.field(description="The execution trace it had, in order.")
    def history(self) -> list[HistoryEvent]:
        return [
            HistoryEvent.from_row(models.HistoryEvent.model_validate(event))
            for event in self.row.document["history"]
        ]

    @classmethod
    def from_row(cls, row: models.ArchivedInstance) -> Self:
        return cls(
            id=str(row.id),
            row=row,
            instance_id=strawberry.ID(encode_id("ProcessInstance", row.id)),
            status=row.status,
            business_key=row.business_key,
            variables=JSON(row.document["instance"]["variables"]),
            started_at=row.started_at,
            ended_at=row.ended_at,
            archived_at=row.archived_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[ArchivedInstance | None]:
        rows = await info.context.services.archive.readable(
            info.context.require_user(), [uuid.UUID(i) for i in node_ids]
        )
        return [cls.from_row(r) if r else None for r in rows]
