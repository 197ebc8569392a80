"""GraphQL types of process instances and their history."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from strawberry import relay

from api import models
from schema.common import JSON, Ctx, InstanceStatus
from schema.definitions import ProcessDefinition
from schema.ids import encode_id
from schema.loaded import from_loader
from schema.users import User, load_user

if TYPE_CHECKING:
    from schema.tasks import Task
    from schema.waiting import WaitingOn


@strawberry.type(description="One step of an instance's trace, pushed as it happens.")
class InstanceEvent:
    actor_id: strawberry.Private[uuid.UUID | None]
    seq: int = strawberry.field(
        description="Position in the instance's log: 1, 2, 3, ... without gaps; `since` resumes after it."
    )
    type: str = strawberry.field(description="What happened, e.g. NODE_ENTERED, TASK_COMPLETED.")
    node_id: str | None = strawberry.field(description="The definition node it concerns.")
    task_id: strawberry.ID | None = strawberry.field(
        description="The task it concerns (global id)."
    )
    at: datetime = strawberry.field(description="When it happened.")
    data: JSON | None = strawberry.field(description="Details: variables, reasons, messages.")

    @classmethod
    def from_row(cls, row: models.HistoryEvent) -> Self:
        return cls(
            actor_id=row.actor_id,
            seq=row.seq,
            type=row.type.value,
            node_id=row.node_id,
            task_id=strawberry.ID(encode_id("Task", row.task_id)) if row.task_id else None,
            at=row.at,
            data=JSON(row.data),
        )


@strawberry.type(description="One entry of an instance's execution trace.")
class HistoryEvent(InstanceEvent):
    @strawberry.field(description="Who caused it, when a person did.", graphql_type=User | None)
    def actor(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.actor_id)


@strawberry.type(description="A running or finished run of a process definition.")
class ProcessInstance(relay.Node):
    id: relay.NodeID[str]
    pk: strawberry.Private[uuid.UUID]
    definition_id: strawberry.Private[uuid.UUID]
    started_by_id: strawberry.Private[uuid.UUID | None]
    parent_id: strawberry.Private[uuid.UUID | None]
    status: InstanceStatus = strawberry.field(description="Where the instance stands.")
    business_key: str | None = strawberry.field(description="The caller's own reference.")
    variables: JSON = strawberry.field(description="The instance's variables now.")
    incident: str | None = strawberry.field(
        description="What stopped the instance, when status is INCIDENT."
    )
    started_at: datetime = strawberry.field(description="When it started.")
    ended_at: datetime | None = strawberry.field(description="When it ended.")

    @strawberry.field(
        description="What the instance waits for: open tasks, timers, messages, service "
        "calls, child instances and incidents, with global ids. Read from the history: no "
        "round trip to Temporal."
    )
    async def waiting_on(
        self, info: Ctx
    ) -> Annotated[WaitingOn, strawberry.lazy("schema.waiting")]:
        from schema.waiting import WaitingOn

        return await WaitingOn.of(info, self)

    @strawberry.field(
        description="What the instance's workflow holds now (active nodes, waiting timers, "
        "open tasks, running services and children, awaited messages); a query to Temporal.",
        deprecation_reason="Raw workflow state with its own ids: use waitingOn.",
    )
    async def live_state(self, info: Ctx) -> JSON:
        principal = info.context.require_user()
        return JSON(await info.context.services.control.live_state(principal, self.pk))

    @strawberry.field(
        description="The instance whose call activity started this one; null when there is "
        "none or the caller may not see it."
    )
    async def parent(self, info: Ctx) -> ProcessInstance | None:
        if self.parent_id is None:
            return None
        row = await info.context.loaders.instance.load(self.parent_id)
        if row is None:
            return None
        # Seeing a child (a candidate of its task) does not open its parent to the caller.
        principal = info.context.require_user()
        if row.id not in await info.context.services.instances.visible(principal, [row]):
            return None
        return ProcessInstance.from_row(row)

    @strawberry.field(
        description="The pinned definition version this instance runs; null when the caller "
        "may not read it (seeing an instance through a task does not open its definition).",
        graphql_type=ProcessDefinition | None,
    )
    def definition(
        self, info: Ctx
    ) -> ProcessDefinition | Awaitable[ProcessDefinition | None] | None:
        return load_definition(info, self.definition_id)

    @strawberry.field(description="Who started it.", graphql_type=User | None)
    def started_by(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.started_by_id)

    @strawberry.field(
        description="The tasks of the instance the caller may see, oldest first: all of "
        "them for whoever sees the instance itself, else those the caller is involved in."
    )
    async def tasks(self, info: Ctx) -> list[Annotated[Task, strawberry.lazy("schema.tasks")]]:
        from schema.tasks import Task

        rows = await info.context.loaders.tasks_of_instance.load(self.pk)
        visible = await info.context.services.tasks.visible(info.context.require_user(), rows)
        return [Task.from_row(r) for r in visible]

    @strawberry.field(description="The execution trace, in order (needs history:read).")
    async def history(self, info: Ctx) -> list[HistoryEvent]:
        info.context.services.history.require_reader(info.context.require_user())
        rows = await info.context.loaders.history_of_instance.load(self.pk)
        return [HistoryEvent.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: models.ProcessInstance) -> ProcessInstance:
        return cls(
            id=str(row.id),
            pk=row.id,
            definition_id=row.definition_id,
            started_by_id=row.started_by,
            parent_id=row.parent_id,
            status=row.status,
            business_key=row.business_key,
            variables=JSON(row.variables),
            incident=row.incident,
            started_at=row.started_at,
            ended_at=row.ended_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[ProcessInstance | None]:
        principal = info.context.require_user()
        rows = await info.context.loaders.instance.load_many([uuid.UUID(i) for i in node_ids])
        visible = await info.context.services.instances.visible(principal, [r for r in rows if r])
        return [cls.from_row(r) if r and r.id in visible else None for r in rows]


def load_definition(
    info: Ctx, definition_id: uuid.UUID
) -> ProcessDefinition | Awaitable[ProcessDefinition | None] | None:
    """An instance's definition when the caller may read it, else None (seeing an
    instance through a task does not open its definition)."""
    principal = info.context.require_user()
    definitions = info.context.services.definitions
    loaded = from_loader(info.context.loaders.definition, definition_id, _definition_row)
    # A page's definitions are loaded ahead, and most need no owner lookup: at once.
    if not inspect.isawaitable(loaded) and definitions.readable_at_once(principal, loaded):
        return ProcessDefinition.from_row(loaded)

    async def checked() -> ProcessDefinition | None:
        row = await loaded if inspect.isawaitable(loaded) else loaded
        shown = row.id in await definitions.visible(principal, [row])
        return ProcessDefinition.from_row(row) if shown else None

    return checked()


def _definition_row(row: models.ProcessDefinition | None) -> models.ProcessDefinition:
    assert row is not None, "an instance's definition exists (foreign key)"
    return row


@strawberry.input(description="Narrows processInstances; conditions combine with AND.")
class ProcessInstanceFilter:
    status: list[InstanceStatus] | None = strawberry.field(
        default=None, description="Any of these."
    )
    definition_key: str | None = strawberry.field(default=None, description="Of this process.")
    business_key: str | None = strawberry.field(default=None, description="With this business key.")
    started_by_me: bool | None = strawberry.field(
        default=None, description="Started by the caller (or not)."
    )
