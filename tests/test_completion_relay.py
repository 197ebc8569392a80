"""A completion that won in PostgreSQL but never reached Temporal is delivered by the relay."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from strawberry import relay

from api.db import SessionMaker
from api.models import HistoryEvent, PendingCompletion, Task
from api.services.tasks import TaskService
from api.services.users import UserService
from engine.enums import HistoryEventType, TaskStatus
from tests.client import GraphQLClient
from tests.factories import deploy, instance, one_task, start
from tests.kit.people import make_user
from workers.relay import resend_pending


async def _won_but_never_sent(
    sessions: SessionMaker, task_id: uuid.UUID, actor_id: uuid.UUID
) -> None:
    """What completeTask commits before it sends the update: as if the API died right there."""
    async with sessions() as session, session.begin():
        task = await session.get(Task, task_id)
        assert task is not None
        await session.exec(
            sa.update(Task).where(col(Task.id) == task_id).values(status=TaskStatus.COMPLETING)
        )
        session.add(
            PendingCompletion(
                task_id=task_id,
                instance_id=task.instance_id,
                actor_id=actor_id,
                variables={"outcome": "relayed"},
                previous_status=task.status,
            )
        )


async def test_relay_delivers_a_completion_whose_update_never_landed(
    client: GraphQLClient, users: UserService, sessions: SessionMaker, task_service: TaskService
) -> None:
    group = f"relay-workers-{uuid.uuid4().hex[:10]}"
    worker = await make_user(users, groups=[group])
    as_worker = await client.login(worker.username)
    definition = await deploy(as_worker, one_task(group=group))
    started = await start(as_worker, definition["key"])
    task_id = uuid.UUID(relay.GlobalID.from_id(started["tasks"][0]["id"]).node_id)
    await _won_but_never_sent(sessions, task_id, worker.id)

    assert await resend_pending(sessions, task_service, older_than=timedelta(0)) >= 1

    final = await instance(as_worker, started["id"])
    assert final["status"] == "COMPLETED"
    assert final["variables"] == {"outcome": "relayed"}
    async with sessions() as session:
        assert await session.get(PendingCompletion, task_id) is None
        completed = await session.exec(
            select(HistoryEvent).where(
                HistoryEvent.task_id == task_id,
                HistoryEvent.type == HistoryEventType.TASK_COMPLETED,
            )
        )
        assert len(completed.all()) == 1
    # A second pass finds nothing left to send, and sending again would change nothing.
    assert await resend_pending(sessions, task_service, older_than=timedelta(0)) == 0
