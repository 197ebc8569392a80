"""Starting and reading process instances."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import col, select
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.db import SessionMaker, reading
from api.errors import BadUserInput, Conflict, NotFound
from api.jsonschemas import validation_errors
from api.models import ProcessDefinition, ProcessInstance
from api.services.definitions import DefinitionService, parsed
from api.services.instance_access import direct_sql, visible_sql
from api.settings import Settings
from engine.enums import InstanceStatus
from engine.messages import UPDATE_STARTED, WORKFLOW_NAME, ProcessInput, workflow_id

# The width of process_instances.business_key.
BUSINESS_KEY_LIMIT = 200


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
    ) -> ProcessInstance:
        """Start an instance and return it once its first step is written.

        Nothing is written here: the workflow's first transition creates the row, so a
        rejected start leaves no instance and no workflow behind."""
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
        instance_id = str(uuid.uuid4())
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
            ),
            id=workflow_id(instance_id),
            task_queue=self._settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await self._temporal.execute_update_with_start_workflow(
            UPDATE_STARTED, start_workflow_operation=start, result_type=str
        )
        return await self.get(uuid.UUID(instance_id))

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
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[ProcessInstance]:
        """Instances the caller may see, newest first, keyset-paginated on (started_at, id)."""
        principal.require(Permission.INSTANCE_READ)
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
        if after is not None:
            query = query.where(
                sa.tuple_(col(ProcessInstance.started_at), col(ProcessInstance.id))
                < sa.tuple_(*after)
            )
        query = query.order_by(
            col(ProcessInstance.started_at).desc(), col(ProcessInstance.id).desc()
        ).limit(limit)
        async with self._reads() as session:
            return list((await session.exec(query)).all())

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
