"""Who may see a process instance: one set of rules for the services and the SQL filters.

An instance is seen directly by admins, its starter, and whoever sees every instance of
its definition (definition_access); and through a task by whoever may see one of its
tasks (task_access). Seeing an instance directly shows all of its tasks; seeing it
through a task shows only the tasks the caller may see themselves."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.principal import Principal
from api.models import ProcessDefinition, ProcessInstance, Task
from api.services.definition_access import every_instance_sql
from api.services.task_access import visible_sql as task_visible_sql


def direct_sql(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.is_admin:
        return sa.true()
    return sa.or_(
        col(ProcessInstance.started_by) == principal.id,
        select(1)
        .where(
            col(ProcessDefinition.id) == col(ProcessInstance.definition_id),
            every_instance_sql(principal),
        )
        # Its own process_definitions even when the outer query joins that table too.
        .correlate(ProcessInstance)
        .exists(),
    )


def visible_sql(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.is_admin:
        return sa.true()
    involved = (
        select(Task.instance_id)
        .where(col(Task.instance_id) == col(ProcessInstance.id), task_visible_sql(principal))
        .exists()
    )
    return sa.or_(direct_sql(principal), involved)


async def seen_directly(
    session: AsyncSession, principal: Principal, instance_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    """The instances among `instance_ids` the caller sees directly: one statement."""
    if principal.is_admin:
        return set(instance_ids)
    found = await session.exec(
        select(ProcessInstance.id).where(
            col(ProcessInstance.id).in_(instance_ids), direct_sql(principal)
        )
    )
    return set(found.all())
