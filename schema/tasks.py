"""GraphQL types of tasks, the inbox query's inputs, and the task event stream."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api import models
from api.services.inbox import TaskOrderField
from schema.common import JSON, Ctx, TaskEventType, TaskStatus
from schema.instances import ProcessInstance
from schema.loaded import from_loader, many_from_loader
from schema.users import User, load_user

strawberry.enum(TaskOrderField, description="What the inbox can be sorted by.")
strawberry.enum(models.DelegationState, description="Where a delegated task stands.")


@strawberry.type(description="A remark on a task.")
class TaskComment:
    author_id: strawberry.Private[uuid.UUID]
    id: strawberry.ID = strawberry.field(description="The comment's id.")
    message: str = strawberry.field(description="What was said.")
    created_at: datetime = strawberry.field(description="When.")

    @strawberry.field(description="Who said it.", graphql_type=User | None)
    def author(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.author_id)

    @classmethod
    def from_row(cls, row: models.TaskComment) -> TaskComment:
        return cls(
            author_id=row.author_id,
            id=strawberry.ID(str(row.id)),
            message=row.message,
            created_at=row.created_at,
        )


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
    follow_up_at: datetime | None = strawberry.field(description="When to look at it again.")
    form: JSON | None = strawberry.field(
        description="JSON Schema of the variables that complete it."
    )
    delegation_state: models.DelegationState | None = strawberry.field(
        description="PENDING while a delegate works on it, RESOLVED once they gave it back."
    )
    variables: JSON = strawberry.field(
        description="Variables a delegate resolved it with; they complete it with the owner's."
    )
    version: int = strawberry.field(description="Grows with every change to the task.")
    created_at: datetime = strawberry.field(description="When it was created.")
    completed_at: datetime | None = strawberry.field(
        description="When it was completed or cancelled."
    )

    @strawberry.field(description="Who holds the task.", graphql_type=User | None)
    def assignee(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.row.assignee_id)

    @strawberry.field(
        description="Who delegated the task and gets it back on resolve.", graphql_type=User | None
    )
    def owner(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.row.owner_id)

    @strawberry.field(description="Who completed it.", graphql_type=User | None)
    def completed_by(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.row.completed_by)

    @strawberry.field(
        description="Users who may claim it, besides the candidate groups' members.",
        graphql_type=list[User],
    )
    def candidate_users(self, info: Ctx) -> list[User] | Awaitable[list[User]]:
        return many_from_loader(
            info.context.loaders.user,
            self.row.candidate_users,
            lambda rows: [User.from_row(r) for r in rows if r],
        )

    @strawberry.field(
        description="The process instance the task belongs to.", graphql_type=ProcessInstance
    )
    def instance(self, info: Ctx) -> ProcessInstance | Awaitable[ProcessInstance]:
        return from_loader(info.context.loaders.instance, self.row.instance_id, _instance)

    @strawberry.field(
        description="Remarks on the task, oldest first.", graphql_type=list[TaskComment]
    )
    def comments(self, info: Ctx) -> list[TaskComment] | Awaitable[list[TaskComment]]:
        return from_loader(
            info.context.loaders.comments_of_task,
            self.row.id,
            lambda rows: [TaskComment.from_row(r) for r in rows],
        )

    @strawberry.field(description="How many remarks the task has.", graphql_type=int)
    def comment_count(self, info: Ctx) -> int | Awaitable[int]:
        return from_loader(info.context.loaders.comment_count, self.row.id, int)

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
            follow_up_at=row.follow_up_at,
            form=JSON(row.form) if row.form is not None else None,
            delegation_state=row.delegation,
            variables=JSON(row.variables),
            version=row.version,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[Task | None]:
        principal = info.context.require_user()
        rows = await info.context.services.tasks.by_ids([uuid.UUID(i) for i in node_ids])
        visible = {
            t.id
            for t in await info.context.services.tasks.visible(principal, [r for r in rows if r])
        }
        return [cls.from_row(r) if r and r.id in visible else None for r in rows]


def _instance(row: models.ProcessInstance | None) -> ProcessInstance:
    assert row is not None, "a task's instance exists (foreign key)"
    return ProcessInstance.from_row(row)


@strawberry.input(
    description="Narrows the inbox. Without assignedToMe, assigneeId, unassigned, "
    "candidateForMe or status, it is the caller's inbox: open tasks assigned to them or "
    "that they may claim. Conditions combine with AND."
)
class TaskFilter:
    assigned_to_me: bool | None = strawberry.field(
        default=None, description="Held by the caller (or not)."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Held by this user."
    )
    unassigned: bool | None = strawberry.field(
        default=None, description="Held by nobody (or by someone)."
    )
    candidate_for_me: bool | None = strawberry.field(
        default=None, description="The caller is a candidate, directly or through a group."
    )
    status: list[TaskStatus] | None = strawberry.field(
        default=None, description="Default: the open ones."
    )
    definition_key: str | None = strawberry.field(
        default=None, description="Of instances of this process."
    )
    instance_id: strawberry.ID | None = strawberry.field(
        default=None, description="Of this instance."
    )
    business_key: str | None = strawberry.field(
        default=None, description="Of the instance with this business key."
    )
    name_contains: str | None = strawberry.field(
        default=None, description="Name contains this, ignoring case."
    )
    priority_min: int | None = strawberry.field(default=None, description="Priority at least.")
    priority_max: int | None = strawberry.field(default=None, description="Priority at most.")
    due_before: datetime | None = strawberry.field(default=None, description="Due before.")
    due_after: datetime | None = strawberry.field(default=None, description="Due after.")
    created_before: datetime | None = strawberry.field(default=None, description="Created before.")
    created_after: datetime | None = strawberry.field(default=None, description="Created after.")
    overdue: bool | None = strawberry.field(default=None, description="Open and past its due date.")


@strawberry.input(description="One sort key of the inbox.")
class TaskOrder:
    field: TaskOrderField = strawberry.field(description="What to sort by.")
    descending: bool = strawberry.field(default=False, description="Largest (or latest) first.")


@strawberry.type(description="The inbox badges.")
class TaskCounts:
    mine: int = strawberry.field(description="Open tasks assigned to the caller.")
    groups: int = strawberry.field(description="Open, unassigned tasks the caller may claim.")
    overdue: int = strawberry.field(description="Tasks of the inbox past their due date.")


@strawberry.type(description="A change to a task that concerns the subscriber.")
class TaskEvent:
    type: TaskEventType = strawberry.field(description="What happened.")
    cursor: str = strawberry.field(
        description="Position in the event stream; pass as `since` to resume."
    )
    at: datetime = strawberry.field(description="When it happened.")
    task: Task = strawberry.field(description="The task as it is now.")
