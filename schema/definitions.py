"""GraphQL types of process definitions."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import strawberry
from strawberry import relay

from api import models
from schema.common import JSON, Ctx
from schema.users import User, load_user


@strawberry.type(description="One deployed version of a process definition. Versions never change.")
class ProcessDefinition(relay.Node):
    id: relay.NodeID[str]
    pk: strawberry.Private[uuid.UUID]
    deployed_by_id: strawberry.Private[uuid.UUID | None]
    key: str = strawberry.field(
        description="The process's stable key; every deployment of it adds a version."
    )
    version: int = strawberry.field(description="1 for the first deployment of the key, then n+1.")
    name: str = strawberry.field(description="Display name.")
    loaded_spec: strawberry.Private[dict[str, Any] | None]
    checksum: str = strawberry.field(description="SHA-256 of the canonical document.")
    suspended: bool = strawberry.field(description="A suspended version starts no new instances.")
    deployed_at: datetime = strawberry.field(description="When this version was deployed.")

    @strawberry.field(description="The definition document (the JSON format).")
    async def spec(self, info: Ctx) -> JSON:
        if self.loaded_spec is not None:
            return JSON(self.loaded_spec)
        return JSON(await info.context.loaders.definition_spec.load(self.pk))

    @strawberry.field(description="Who deployed this version.", graphql_type=User | None)
    def deployed_by(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.deployed_by_id)

    @classmethod
    def from_row(cls, row: models.ProcessDefinition) -> ProcessDefinition:
        return cls(
            id=str(row.id),
            pk=row.id,
            deployed_by_id=row.deployed_by,
            key=row.key,
            version=row.version,
            name=row.name,
            # Rows loaded for a page leave the document out (it is large, and rarely
            # asked for there); `spec` then loads it on demand.
            loaded_spec=None if "spec" in sa.inspect(row).unloaded else row.spec,
            checksum=row.checksum,
            suspended=row.suspended,
            deployed_at=row.deployed_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[ProcessDefinition | None]:
        principal = info.context.require_user()
        rows = await info.context.loaders.definition.load_many([uuid.UUID(i) for i in node_ids])
        visible = await info.context.services.definitions.visible(principal, [r for r in rows if r])
        return [cls.from_row(r) if r and r.id in visible else None for r in rows]


@strawberry.enum(description="Whether a problem stops a deployment.")
class ProblemSeverity(enum.Enum):
    ERROR = strawberry.enum_value("error", description="The definition cannot be deployed.")
    WARNING = strawberry.enum_value(
        "warning",
        description="It can be deployed, but something it says has no effect in Flowdesk.",
    )


@strawberry.type(description="One thing wrong with a definition.")
class DefinitionProblem:
    path: str = strawberry.field(
        description="Where: a JSON path into the document, or for BPMN the element, as "
        "`bpmn:userTask[@id='review']`."
    )
    node_id: str | None = strawberry.field(
        description="The node (for BPMN, the element's id, sequence flows included) it "
        "concerns, if any."
    )
    message: str = strawberry.field(description="What is wrong, and what to do.")
    severity: ProblemSeverity = strawberry.field(
        description="ERROR stops the deployment; a WARNING does not."
    )
