"""The task inbox and the task lifecycle: claim and complete."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth.principal import Principal
from api.db import SessionMaker
from api.errors import BadUserInput, Conflict, Forbidden, NotFound
from api.events import EventBus
from api.jsonschemas import validation_errors
from api.models import PendingCompletion, Task, overlaps
from api.services.history import NewEvent, append_events, task_audience
from api.services.transitions import notices
from engine.enums import HistoryEventType, TaskStatus
from engine.messages import UPDATE_COMPLETE_TASK, CompleteTaskInput, workflow_id

log = logging.getLogger(__name__)

OPEN_STATUSES = (TaskStatus.CREATED, TaskStatus.CLAIMED)


def is_candidate(principal: Principal, task: Task) -> bool:
    return principal.id in task.candidate_users or not principal.groups.isdisjoint(
        task.candidate_groups
    )


def may_see(principal: Principal, task: Task) -> bool:
    return principal.is_admin or task.assignee_id == principal.id or is_candidate(principal, task)


def may_work(principal: Principal, task: Task) -> bool:
    """Complete it: the assignee, or a candidate while nobody holds it."""
    if task.assignee_id is not None:
        return task.assignee_id == principal.id
    return is_candidate(principal, task) or principal.is_admin


def inbox_condition(principal: Principal) -> ColumnElement[bool]:
    """Open tasks assigned to the caller, or unassigned with the caller as a candidate.

    Each branch matches one partial index (see the Task model)."""
    is_open = col(Task.status).in_(OPEN_STATUSES)
    candidate = sa.or_(
        col(Task.candidate_users).contains([principal.id]),
        overlaps(Task.candidate_groups, principal.groups),
    )
    return sa.and_(
        is_open,
        sa.or_(
            col(Task.assignee_id) == principal.id,
            sa.and_(col(Task.assignee_id).is_(None), candidate),
        ),
    )


class TaskService:
    def __init__(self, sessions: SessionMaker, temporal: Client, bus: EventBus) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._bus = bus

    async def inbox(
        self, principal: Principal, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Task]:
        """The caller's open tasks, newest first, keyset-paginated on (created_at, id)."""
        query = select(Task).where(inbox_condition(principal))
        if after is not None:
            query = query.where(sa.tuple_(col(Task.created_at), col(Task.id)) < sa.tuple_(*after))
        query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc()).limit(limit)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def get(self, principal: Principal, task_id: uuid.UUID) -> Task:
        async with self._sessions() as session:
            task = await session.get(Task, task_id)
        if task is None:
            raise NotFound("no such task")
        if not may_see(principal, task):
            raise Forbidden("this task is not yours to see")
        return task

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> list[Task | None]:
        async with self._sessions() as session:
            rows = await session.exec(select(Task).where(col(Task.id).in_(ids)))
            found = {t.id: t for t in rows}
        return [found.get(i) for i in ids]

    async def for_instances(self, instance_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Task]]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(Task)
                .where(col(Task.instance_id).in_(instance_ids))
                .order_by(col(Task.created_at), col(Task.id))
            )
            grouped: dict[uuid.UUID, list[Task]] = {i: [] for i in instance_ids}
            for task in rows:
                grouped[task.instance_id].append(task)
            return grouped

    async def claim(self, principal: Principal, task_id: uuid.UUID) -> Task:
        async with self._sessions() as session, session.begin():
            task = await self._visible(session, principal, task_id)
            if not (is_candidate(principal, task) or principal.is_admin):
                raise Forbidden("only a candidate may claim this task")
            claimed: Task | None = (
                (
                    await session.exec(
                        sa.update(Task)
                        .where(
                            col(Task.id) == task_id,
                            col(Task.version) == task.version,
                            col(Task.status) == TaskStatus.CREATED,
                            col(Task.assignee_id).is_(None),
                        )
                        .values(
                            status=TaskStatus.CLAIMED,
                            assignee_id=principal.id,
                            version=Task.version + 1,
                        )
                        .returning(Task)
                    )
                )
                .scalars()
                .first()
            )
            if claimed is None:
                raise Conflict(_why_not_open(task, "claimed"))
            events = await append_events(
                session,
                task.instance_id,
                [
                    NewEvent(
                        HistoryEventType.TASK_CLAIMED,
                        at=datetime.now(UTC),
                        node_id=task.node_id,
                        task_id=task.id,
                        actor_id=principal.id,
                        **task_audience(claimed, principal.id),
                    )
                ],
            )
        await self._bus.publish(notices(events))
        return claimed

    async def complete(self, principal: Principal, task_id: uuid.UUID, variables: Any) -> Task:
        """Complete a task: exactly one caller wins.

        The winner is decided in PostgreSQL (open -> COMPLETING, where status and version
        still match) and committed with an outbox row; only then is the Temporal update
        sent, keyed by the task id, and awaited so the caller reads its own write."""
        variables = {} if variables is None else variables
        if not isinstance(variables, dict):
            raise BadUserInput("variables must be a JSON object")
        async with self._sessions() as session, session.begin():
            task = await self._visible(session, principal, task_id)
            # Closed first: whoever completed a task became its assignee, and a candidate
            # who lost the race must hear CONFLICT, not that it is someone else's.
            if task.status not in OPEN_STATUSES:
                raise Conflict(_why_not_open(task, "completed"))
            if not may_work(principal, task):
                raise Forbidden("this task is assigned to someone else")
            errors = validation_errors(task.form, variables)
            if errors:
                raise BadUserInput(
                    "invalid form data: "
                    + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                    fields=errors,
                )
            won = await session.exec(
                sa.update(Task)
                .where(col(Task.id) == task_id, col(Task.version) == task.version)
                .values(status=TaskStatus.COMPLETING, version=Task.version + 1)
            )
            if won.rowcount != 1:
                raise Conflict("the task changed meanwhile; it is being completed by someone else")
            pending = PendingCompletion(
                task_id=task.id,
                instance_id=task.instance_id,
                actor_id=principal.id,
                variables=variables,
                previous_status=task.status,
            )
            session.add(pending)
        await self.deliver(pending, actor=principal.username)
        async with self._sessions() as session:
            done = await session.get(Task, task_id)
        assert done is not None
        return done

    async def deliver(self, pending: PendingCompletion, *, actor: str | None) -> None:
        """Send the completion update; idempotent by the task id, so the relay may resend it.

        A rejected update puts the task back as it was; an unreachable Temporal leaves the
        outbox row for the relay."""
        handle = self._temporal.get_workflow_handle(workflow_id(str(pending.instance_id)))
        update = CompleteTaskInput(
            task_id=str(pending.task_id),
            variables=pending.variables,
            actor=actor,
            actor_id=str(pending.actor_id),
        )
        try:
            await handle.execute_update(
                UPDATE_COMPLETE_TASK, update, id=str(pending.task_id), result_type=str
            )
        except WorkflowUpdateFailedError as exc:
            await self._roll_back(pending)
            raise Conflict(f"the instance refused the completion: {_cause(exc)}") from exc
        except RPCError as exc:
            if "not found" in str(exc).lower() or "already completed" in str(exc).lower():
                await self._roll_back(pending)
                raise Conflict("the instance is no longer running") from exc
            raise

    async def _roll_back(self, pending: PendingCompletion) -> None:
        async with self._sessions() as session, session.begin():
            await session.exec(
                sa.update(Task)
                .where(col(Task.id) == pending.task_id, col(Task.status) == TaskStatus.COMPLETING)
                .values(status=pending.previous_status, version=Task.version + 1)
            )
            await session.exec(
                sa.delete(PendingCompletion).where(
                    col(PendingCompletion.task_id) == pending.task_id
                )
            )

    @staticmethod
    async def _visible(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Task:
        task = await session.get(Task, task_id)
        if task is None:
            raise NotFound("no such task")
        if not may_see(principal, task):
            raise Forbidden("this task is not yours to see")
        return task


def _why_not_open(task: Task, verb: str) -> str:
    if task.status == TaskStatus.CLAIMED:
        return f"the task is claimed by someone else and cannot be {verb}"
    return f"the task is {task.status.value.lower()} and cannot be {verb}"


def _cause(exc: WorkflowUpdateFailedError) -> str:
    # The workflow's validator or handler failure, as an ApplicationError with its message.
    return str(getattr(exc.cause, "message", exc.cause))
