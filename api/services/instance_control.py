"""Controlling running instances: suspend, resume, cancel, terminate, set variables,
deliver messages, retry incidents, and read the live state.

Everything but terminate is an event for the instance's workflow, sent as the `control`
update: the workflow decides (the interpreter refuses what the instance's state does not
allow) and writes the transition before the update returns, so the caller reads its own
write. Terminate stops the workflow outright; the rows are then closed here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.db import SessionMaker, reading
from api.errors import BadUserInput, Conflict, Forbidden, NotFound
from api.events import EventBus
from api.jsonschemas import variables_given
from api.models import OPEN_TASK_STATUSES, PendingCompletion, ProcessInstance, Task
from api.services.history import NewEvent, append_events, mark_log_writer, task_audience
from api.services.instances import InstanceService
from api.services.transitions import FINAL_STATUSES
from api.workflow_updates import send_update
from engine.enums import HistoryEventType, InstanceStatus, TaskStatus
from engine.live import ended_live_state
from engine.workflow_contract import (
    QUERY_LIVE_STATE,
    UPDATE_CONTROL,
    CancelRequest,
    ControlInput,
    ControlRequest,
    MessageRequest,
    ResumeRequest,
    RetryIncidentRequest,
    SetVariablesRequest,
    SuspendRequest,
    workflow_id,
)


class InstanceControl:
    def __init__(
        self,
        sessions: SessionMaker,
        temporal: Client,
        bus: EventBus,
        instances: InstanceService,
        *,
        answer_within: float,
    ) -> None:
        self._answer_within = answer_within
        self._sessions = sessions
        self._reads = reading(sessions)
        self._temporal = temporal
        self._bus = bus
        self._instances = instances

    async def suspend(
        self, principal: Principal, instance_id: uuid.UUID, reason: str | None
    ) -> ProcessInstance:
        return await self._send(
            principal, instance_id, SuspendRequest(actor=principal.username, reason=reason)
        )

    async def resume(self, principal: Principal, instance_id: uuid.UUID) -> ProcessInstance:
        return await self._send(principal, instance_id, ResumeRequest(actor=principal.username))

    async def cancel(
        self, principal: Principal, instance_id: uuid.UUID, reason: str | None
    ) -> ProcessInstance:
        return await self._send(
            principal, instance_id, CancelRequest(actor=principal.username, reason=reason)
        )

    async def retry_incident(self, principal: Principal, instance_id: uuid.UUID) -> ProcessInstance:
        return await self._send(
            principal, instance_id, RetryIncidentRequest(actor=principal.username)
        )

    async def set_variables(
        self, principal: Principal, instance_id: uuid.UUID, variables: Any
    ) -> ProcessInstance:
        """Merge variables into the instance's, for holders of instance:manage; the result
        must satisfy the definition's variables schema."""
        principal.require(Permission.INSTANCE_MANAGE)
        if not isinstance(variables, dict) or not variables:
            raise BadUserInput("variables must be a non-empty JSON object", field="variables")
        row = await self._controllable(principal, instance_id)
        await self._instances.check_variables(row, {**row.variables, **variables})
        return await self._send(
            principal,
            instance_id,
            SetVariablesRequest(actor=principal.username, variables=variables),
            row=row,
        )

    async def send_message(
        self,
        principal: Principal,
        *,
        instance_id: uuid.UUID | None,
        business_key: str | None,
        name: str,
        variables: Any,
    ) -> ProcessInstance:
        """Deliver a message to the one instance named by id or business key that waits
        for it; refused (never dropped) when it does not wait for it."""
        if (instance_id is None) == (business_key is None):
            raise BadUserInput("give exactly one of instanceId or businessKey")
        event = MessageRequest(
            actor=principal.username, name=name, variables=variables_given(variables)
        )
        if instance_id is not None:
            return await self._send(principal, instance_id, event, readers_may=True)
        # A business key may name a parent and the children its call activities started
        # (they inherit it): the message goes to the one of them that waits for it. Two
        # that wait make it ambiguous, as in Camunda's correlation.
        candidates = await self._by_business_key(principal, str(business_key))
        waiting = [c for c in candidates if name in await self._awaited_messages(c)]
        if len(waiting) > 1:
            raise Conflict(
                f"{len(waiting)} open instances with business key {business_key!r} wait for "
                f"{name!r}; name one by id"
            )
        target = waiting[0] if waiting else candidates[0]  # none: refused with the reason
        return await self._send(principal, target, event, readers_may=True)

    async def _awaited_messages(self, instance_id: uuid.UUID) -> set[str]:
        handle = self._temporal.get_workflow_handle(workflow_id(str(instance_id)))
        try:
            state: dict[str, Any] = await handle.query(QUERY_LIVE_STATE, result_type=dict)
        except RPCError:
            return set()  # ended meanwhile
        return {m["name"] for m in state.get("messages", [])}

    async def terminate(
        self, principal: Principal, instance_id: uuid.UUID, reason: str | None
    ) -> ProcessInstance:
        """Stop the instance at once, without cleanup in the workflow; its rows (and its
        children's) are closed here in one transaction."""
        row = await self._controllable(principal, instance_id)
        if row.status in FINAL_STATUSES:
            raise Conflict(f"the instance is {row.status.value.lower()} already")
        ids = await self._with_descendants(instance_id)
        for each in ids:
            try:
                await self._temporal.get_workflow_handle(workflow_id(str(each))).terminate(
                    reason=reason or "terminated"
                )
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            await mark_log_writer(await session.connection())
            published = []
            for each in ids:
                published += await self._close_rows(session, each, principal, reason, now)
        await self._bus.publish(published)
        return await self._instances.get(instance_id)

    async def live_state(self, principal: Principal, instance_id: uuid.UUID) -> dict[str, Any]:
        """What the workflow holds now: active nodes, timers, tasks, work under way."""
        row = await self._instances.readable(principal, instance_id)
        if row.status in FINAL_STATUSES:
            return ended_live_state(row.status)
        handle = self._temporal.get_workflow_handle(workflow_id(str(instance_id)))
        state: dict[str, Any] = await handle.query(QUERY_LIVE_STATE, result_type=dict)
        return state

    async def _send(
        self,
        principal: Principal,
        instance_id: uuid.UUID,
        event: ControlRequest,
        *,
        readers_may: bool = False,
        row: ProcessInstance | None = None,
    ) -> ProcessInstance:
        """Send `event` to the instance's workflow; `row` is the instance when the caller
        has been checked already."""
        if row is None and readers_may:
            row = await self._instances.readable(principal, instance_id)
        elif row is None:
            row = await self._controllable(principal, instance_id)
        if row.status in FINAL_STATUSES:
            raise Conflict(f"the instance is {row.status.value.lower()}")
        handle = self._temporal.get_workflow_handle(workflow_id(str(instance_id)))
        await send_update(
            handle,
            UPDATE_CONTROL,
            ControlInput(event=event, actor_id=str(principal.id)),
            deadline=self._answer_within,
        )
        return await self._instances.get(instance_id)

    async def _controllable(self, principal: Principal, instance_id: uuid.UUID) -> ProcessInstance:
        """Who may control an instance they see: admins, holders of instance:manage, and
        whoever started it. One they do not see is NOT_FOUND."""
        row = await self._instances.readable(principal, instance_id)
        if principal.can(Permission.INSTANCE_MANAGE) or row.started_by == principal.id:
            return row
        raise Forbidden("only whoever started the instance, or an operator, may control it")

    async def _by_business_key(self, principal: Principal, business_key: str) -> list[uuid.UUID]:
        """The open instances with this business key that the caller may see, oldest
        first: other people's neither answer nor tell that they exist."""
        async with self._reads() as session:
            rows = (
                await session.exec(
                    select(ProcessInstance)
                    .where(
                        col(ProcessInstance.business_key) == business_key,
                        col(ProcessInstance.status).not_in(FINAL_STATUSES),
                    )
                    .order_by(col(ProcessInstance.started_at), col(ProcessInstance.id))
                )
            ).all()
        visible = await self._instances.visible(principal, list(rows))
        if not visible:
            raise NotFound(f"no open instance has business key {business_key!r}")
        return [row.id for row in rows if row.id in visible]

    async def _with_descendants(self, instance_id: uuid.UUID) -> list[uuid.UUID]:
        """The instance and every open instance its call activities started, parents first."""
        found = [instance_id]
        async with self._reads() as session:
            frontier = [instance_id]
            while frontier:
                children = (
                    await session.exec(
                        select(ProcessInstance.id).where(
                            col(ProcessInstance.parent_id).in_(frontier),
                            col(ProcessInstance.status).not_in(FINAL_STATUSES),
                        )
                    )
                ).all()
                found += children
                frontier = list(children)
        return found

    async def _close_rows(
        self,
        session: Any,
        instance_id: uuid.UUID,
        principal: Principal,
        reason: str | None,
        now: datetime,
    ) -> list[Any]:
        closed = (
            (
                await session.exec(
                    sa.update(Task)
                    .where(
                        col(Task.instance_id) == instance_id,
                        col(Task.status).in_([*OPEN_TASK_STATUSES, TaskStatus.COMPLETING]),
                    )
                    .values(status=TaskStatus.CANCELLED, completed_at=now, version=Task.version + 1)
                    .returning(Task)
                )
            )
            .scalars()
            .all()
        )
        await session.exec(
            sa.delete(PendingCompletion).where(col(PendingCompletion.instance_id) == instance_id)
        )
        await session.exec(
            sa.update(ProcessInstance)
            .where(
                col(ProcessInstance.id) == instance_id,
                col(ProcessInstance.status).not_in(FINAL_STATUSES),
            )
            .values(status=InstanceStatus.TERMINATED, ended_at=now, incident=None)
        )
        events = [
            NewEvent(
                HistoryEventType.TASK_CANCELLED,
                at=now,
                node_id=task.node_id,
                task_id=task.id,
                actor_id=principal.id,
                data={"reason": reason},
                **task_audience(task, principal.id),
            )
            for task in closed
        ]
        events.append(
            NewEvent(
                HistoryEventType.INSTANCE_TERMINATED,
                at=now,
                actor_id=principal.id,
                data={"reason": reason},
            )
        )
        return await append_events(session, instance_id, events)
