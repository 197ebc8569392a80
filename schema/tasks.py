"""GraphQL types of tasks and of the task event stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api import models
from api.services.tasks import may_see
from schema.common import JSON, Ctx, TaskEventType, TaskStatus
from schema.instances import ProcessInstance
from schema.users import User, load_user


@strawberry.type(description="A human step of a process instance, waiting in someone's inbox.")
class Task(relay.Node):
    id: relay.NodeID[str]
    row: strawberry.Private[models.Task]
    name: str = strawberry.field(description="What to do.")
    node_id: str = strawberry.field(description="The userTask node of the definition.")
    status: TaskStatus = strawberry.field(description="Where the task stands.")
    candidate_groups: list[str] = strawberry.field(description="Groups whose members may claim it.")
    priority: int = strawberry.field(description="0-100, higher is more urgent.")
    due_at: datetime | None = strawberry.field(description="When it should be done.")
    form: JSON | None = strawberry.field(
        description="JSON Schema of the variables that complete it."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    completed_at: datetime | None = strawberry.field(
        description="When it was completed or cancelled."
    )

    @strawberry.field(description="Who holds the task.")
    async def assignee(self, info: Ctx) -> User | None:
        return await load_user(info, self.row.assignee_id)

    @strawberry.field(description="Who completed it.")
    async def completed_by(self, info: Ctx) -> User | None:
        return await load_user(info, self.row.completed_by)

    @strawberry.field(description="Users who may claim it, besides the candidate groups' members.")
    async def candidate_users(self, info: Ctx) -> list[User]:
        rows = await info.context.loaders.user.load_many(self.row.candidate_users)
        return [User.from_row(r) for r in rows if r]

    @strawberry.field(description="The process instance the task belongs to.")
    async def instance(self, info: Ctx) -> ProcessInstance:
        row = await info.context.loaders.instance.load(self.row.instance_id)
        assert row is not None
        return ProcessInstance.from_row(row)

    @classmethod
    def from_row(cls, row: models.Task) -> Task:
        return cls(
            id=str(row.id),
            row=row,
            name=row.name,
            node_id=row.node_id,
            status=row.status,
            candidate_groups=row.candidate_groups,
            priority=row.priority,
            due_at=row.due_at,
            form=JSON(row.form) if row.form is not None else None,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[Task | None]:
        principal = info.context.require_user()
        rows = await info.context.services.tasks.by_ids([uuid.UUID(i) for i in node_ids])
        return [cls.from_row(r) if r and may_see(principal, r) else None for r in rows]


@strawberry.type(description="A change to a task that concerns the subscriber.")
class TaskEvent:
    type: TaskEventType = strawberry.field(description="What happened.")
    cursor: str = strawberry.field(
        description="Position in the event stream; pass as `since` to resume."
    )
    at: datetime = strawberry.field(description="When it happened (its commit).")
    task: Task = strawberry.field(description="The task as it is now.")
