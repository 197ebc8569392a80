"""GraphQL types of what an open instance waits for (ProcessInstance.waitingOn)."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from api.models import OPEN_TASK_STATUSES
from api.services import waiting
from engine.enums import OPEN_INSTANCE_STATUSES
from engine.validation import deployed_definition
from schema.common import Ctx
from schema.instances import ProcessInstance
from schema.tasks import Task


@strawberry.type(description="A timer the instance set: an intermediate or a boundary timer.")
class TimerWait:
    node_id: str = strawberry.field(description="The timer's node.")
    due_at: datetime = strawberry.field(description="When it fires.")


@strawberry.type(description="A service task whose action runs now.")
class ServiceWait:
    node_id: str = strawberry.field(description="The service task.")
    action: str = strawberry.field(description="The action it runs.")


@strawberry.type(description="A receive task waiting for a message.")
class MessageWait:
    node_id: str = strawberry.field(description="The receive task.")
    name: str = strawberry.field(description="The message's name, as sendMessage takes it.")
    business_key: str | None = strawberry.field(
        description="The instance's business key: sendMessage reaches it by this or its id."
    )


@strawberry.type(description="A step stopped by a failure, until retryIncident.")
class IncidentWait:
    node_id: str | None = strawberry.field(description="Where it stopped.")
    message: str = strawberry.field(description="What failed.")


@strawberry.type(description="Everything an open instance waits for; empty once it ended.")
class WaitingOn:
    tasks: list[Task] = strawberry.field(description="Its open tasks the caller may see.")
    timers: list[TimerWait] = strawberry.field(description="Timers set, soonest first.")
    messages: list[MessageWait] = strawberry.field(description="Messages awaited.")
    services: list[ServiceWait] = strawberry.field(description="Service calls under way.")
    children: list[ProcessInstance] = strawberry.field(
        description="Instances its call activities started that are still open, those the "
        "caller may see."
    )
    incidents: list[IncidentWait] = strawberry.field(description="Incidents not yet retried.")

    @classmethod
    async def of(cls, info: Ctx, instance: ProcessInstance) -> Self:
        if instance.status not in OPEN_INSTANCE_STATUSES:
            return cls(tasks=[], timers=[], messages=[], services=[], children=[], incidents=[])
        loaders, services = info.context.loaders, info.context.services
        spec = await loaders.definition_spec.load(instance.definition_id)
        history = await loaders.history_of_instance.load(instance.pk)
        found = waiting.waits(deployed_definition(str(instance.definition_id), spec), history)
        tasks = await instance.tasks(info)
        children = await services.instances.open_children(info.context.require_user(), instance.pk)
        return cls(
            tasks=[t for t in tasks if t.status in OPEN_TASK_STATUSES],
            timers=[TimerWait(node_id=t.node_id, due_at=t.due_at) for t in found.timers],
            messages=[
                MessageWait(node_id=m.node_id, name=m.name, business_key=instance.business_key)
                for m in found.messages
            ],
            services=[ServiceWait(node_id=s.node_id, action=s.action) for s in found.services],
            children=[ProcessInstance.from_row(row) for row in children],
            incidents=[IncidentWait(node_id=i.node_id, message=i.message) for i in found.incidents],
        )
