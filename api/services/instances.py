"""Starting and reading process instances."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.cursors import Keyset, moment, newest_first, row_id
from api.db import SessionMaker, read_after_write, reading
from api.errors import BadUserInput, Conflict, NotFound, Unanswered
from api.jsonschemas import validation_errors
from api.models import ProcessDefinition, ProcessInstance
from api.services.definitions import DefinitionService, parsed
from api.services.instance_access import direct_sql, visible_sql
from api.settings import Settings
from api.workflow_updates import workflow_exists
from engine.enums import OPEN_INSTANCE_STATUSES, InstanceStatus
from engine.workflow_contract import UPDATE_STARTED, WORKFLOW_NAME, ProcessInput, workflow_id

# Pages go newest first by (started_at, id).
_BY_START = Keyset((moment, row_id))

# The widths of process_instances.business_key and request_id.
BUSINESS_KEY_LIMIT = 200
REQUEST_ID_LIMIT = 200
# The namespace of instance ids derived from (caller, requestId).
_REQUESTS = uuid.UUID("5f1c2a8e-6b1d-4c47-9a53-0e6f8d2b7c14")


class InstanceService:
    def __init__(
        self,
        sessions: SessionMaker,
        temporal: Client,
        settings: Settings,
        definitions: DefinitionService,
    ) -> None:
        self._reads = reading(sessions)
        self._temporal = temporal
        self._settings = settings
        self._definitions = definitions

    async def start(
        self,
        key: str,
        *,
        version: int | None,
        business_key: str | None,
        variables: Any,
        initiator: Principal,
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Start an instance and return it once its first step is written, or, when no
        worker took it within the answer deadline, as it starts (RUNNING, no tasks yet):
        its first step is written when a worker comes.

        A `request_id` makes the start idempotent for its caller: the instance's id is
        derived from the two, so a retry (whatever its other arguments) finds the
        instance the first call started, or joins its workflow while it starts.

        Nothing is written here: the workflow's first transition creates the row, so a
        rejected start leaves no instance and no workflow behind."""
        if request_id is None:
            instance_id = str(uuid.uuid4())
        else:
            if not 0 < len(request_id) <= REQUEST_ID_LIMIT:
                raise BadUserInput(
                    f"requestId has 1 to {REQUEST_ID_LIMIT} characters", field="requestId"
                )
            instance_id = str(uuid.uuid5(_REQUESTS, f"{initiator.id}/{request_id}"))
            async with self._reads() as session:
                earlier = await session.get(ProcessInstance, uuid.UUID(instance_id))
            if earlier is not None:
                return earlier
        row = await self._definitions.startable(initiator, key, version)
        if row.suspended:
            raise Conflict(f"process definition '{key}' version {row.version} is suspended")
        if business_key is not None and len(business_key) > BUSINESS_KEY_LIMIT:
            # Checked here: the workflow's first transition could never store it.
            raise BadUserInput(
                f"businessKey is longer than {BUSINESS_KEY_LIMIT} characters", field="businessKey"
            )
        variables = {} if variables is None else variables
        if not isinstance(variables, dict):
            raise BadUserInput("variables must be a JSON object")
        errors = validation_errors(parsed(row).variables, variables)
        if errors:
            raise BadUserInput(_describe(errors), fields=errors)
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            WORKFLOW_NAME,
            ProcessInput(
                instance_id=instance_id,
                definition_id=str(row.id),
                spec=row.spec,
                variables=variables,
                business_key=business_key,
                initiator=initiator.username,
                initiator_id=str(initiator.id),
                request_id=request_id,
            ),
            id=workflow_id(instance_id),
            task_queue=self._settings.task_queue,
            # A retry of a request joins the workflow its first call started; one that
            # has ended is not started again (its row answers instead).
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        if await self._first_step_written(start, workflow_id(instance_id)):
            return await read_after_write(lambda: self.get(uuid.UUID(instance_id)))
        # Started, and no worker has written its first step yet: the answer is the
        # instance as it starts, which that step will store.
        return ProcessInstance(
            id=uuid.UUID(instance_id),
            definition_id=row.id,
            business_key=business_key,
            status=InstanceStatus.RUNNING,
            variables=variables,
            started_by=initiator.id,
            request_id=request_id,
            started_at=datetime.now(UTC),
        )

    async def _first_step_written(
        self, start: WithStartWorkflowOperation[Any, Any], workflow: str
    ) -> bool:
        """Start the workflow and wait for its first step, as long as the answer deadline
        allows: True once it is written, False when the workflow started but no worker
        wrote it in time; `Unanswered` when Temporal did not say whether it started."""
        deadline = self._settings.workflow_answer_seconds
        try:
            # Bounded as every update is (see send_update): with no worker running the
            # server would hold the call until one comes.
            async with asyncio.timeout(deadline):
                await self._temporal.execute_update_with_start_workflow(
                    UPDATE_STARTED,
                    start_workflow_operation=start,
                    result_type=str,
                    rpc_timeout=timedelta(seconds=deadline),
                )
        except WorkflowAlreadyStartedError:
            # The request's instance ran and ended meanwhile: its first step is written.
            return True
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
            if isinstance(exc, RPCError) and exc.status != RPCStatusCode.UNAVAILABLE:
                raise
            handle = self._temporal.get_workflow_handle(workflow)
            if not await workflow_exists(handle, deadline=deadline):
                raise Unanswered(
                    "Temporal did not answer in time; the instance may not have started"
                ) from exc
            return False
        return True

    async def get(self, instance_id: uuid.UUID) -> ProcessInstance:
        async with self._reads() as session:
            row = await session.get(ProcessInstance, instance_id)
        if row is None:
            raise NotFound("no such process instance")
        return row

    async def readable(self, principal: Principal, instance_id: uuid.UUID) -> ProcessInstance:
        """The instance, when the caller may read it; the same NOT_FOUND when it does not
        exist or may not be seen."""
        principal.require(Permission.INSTANCE_READ)
        row = await self.get(instance_id)
        if row.id not in await self.visible(principal, [row]):
            raise NotFound("no such process instance")
        return row

    async def trace_readable(self, principal: Principal, instance_id: uuid.UUID) -> ProcessInstance:
        """The instance, when the caller may read it and its history."""
        principal.require(Permission.HISTORY_READ)
        return await self.readable(principal, instance_id)

    async def check_variables(self, row: ProcessInstance, variables: dict[str, Any]) -> None:
        """BAD_USER_INPUT naming each problem when `variables` do not satisfy the schema of
        the instance's definition."""
        [definition] = await self._definitions.by_ids([row.definition_id])
        assert definition is not None, "an instance's definition exists (foreign key)"
        errors = validation_errors(parsed(definition).variables, variables)
        if errors:
            raise BadUserInput(_describe(errors), fields=errors)

    async def with_definitions(
        self, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[ProcessInstance, ProcessDefinition]]:
        async with self._reads() as session:
            rows = await session.exec(
                select(ProcessInstance, ProcessDefinition)
                .join(ProcessDefinition, col(ProcessDefinition.id) == ProcessInstance.definition_id)
                .where(col(ProcessInstance.id).in_(ids))
                # Every instance of a page repeats its definition: leave out the document.
                .options(defer(cast(QueryableAttribute[Any], ProcessDefinition.spec)))
            )
            return {instance.id: (instance, definition) for instance, definition in rows}

    async def page(
        self,
        principal: Principal,
        *,
        statuses: list[InstanceStatus] | None,
        definition_key: str | None,
        business_key: str | None,
        started_by_me: bool | None,
        after: str | None,
        limit: int,
    ) -> list[tuple[ProcessInstance, str]]:
        """Instances the caller may see, newest first, keyset-paginated on (started_at, id),
        with their cursors."""
        principal.require(Permission.INSTANCE_READ)
        position = _BY_START.position(after)
        query = select(ProcessInstance).where(visible_sql(principal))
        if statuses:
            query = query.where(col(ProcessInstance.status).in_(statuses))
        if business_key is not None:
            query = query.where(col(ProcessInstance.business_key) == business_key)
        if started_by_me is not None:
            mine = col(ProcessInstance.started_by) == principal.id
            query = query.where(mine if started_by_me else sa.not_(mine))
        if definition_key is not None:
            query = query.join(
                ProcessDefinition, col(ProcessDefinition.id) == ProcessInstance.definition_id
            ).where(col(ProcessDefinition.key) == definition_key)
        query = newest_first(
            query, col(ProcessInstance.started_at), col(ProcessInstance.id), position, limit
        )
        async with self._reads() as session:
            rows = (await session.exec(query)).all()
        return _BY_START.paged(rows, lambda r: (r.started_at, r.id))

    async def open_children(
        self, principal: Principal, instance_id: uuid.UUID
    ) -> list[ProcessInstance]:
        """The open instances the call activities of `instance_id` started, oldest first,
        those the caller may see."""
        async with self._reads() as session:
            rows = list(
                await session.exec(
                    select(ProcessInstance)
                    .where(
                        col(ProcessInstance.parent_id) == instance_id,
                        col(ProcessInstance.status).in_(OPEN_INSTANCE_STATUSES),
                    )
                    .order_by(col(ProcessInstance.started_at))
                )
            )
        visible = await self.visible(principal, rows)
        return [row for row in rows if row.id in visible]

    async def visible(self, principal: Principal, rows: list[ProcessInstance]) -> set[uuid.UUID]:
        """The instances among `rows` the caller may see (instance_access); none without
        instance:read."""
        if not principal.can(Permission.INSTANCE_READ):
            return set()
        return await self._matching(principal, rows, visible_sql(principal))

    async def seen_directly(
        self, principal: Principal, rows: list[ProcessInstance]
    ) -> set[uuid.UUID]:
        """The instances among `rows` the caller sees directly, with all of their tasks."""
        return await self._matching(principal, rows, direct_sql(principal))

    async def _matching(
        self, principal: Principal, rows: list[ProcessInstance], condition: sa.ColumnElement[bool]
    ) -> set[uuid.UUID]:
        if principal.is_admin:
            return {r.id for r in rows}
        mine = {r.id for r in rows if r.started_by == principal.id}
        others = [r.id for r in rows if r.id not in mine]
        if not others:
            return mine
        async with self._reads() as session:
            found = await session.exec(
                select(ProcessInstance.id).where(col(ProcessInstance.id).in_(others), condition)
            )
            return mine | set(found.all())


def _describe(errors: list[dict[str, str]]) -> str:
    return "invalid variables: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
