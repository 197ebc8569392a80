"""Per-request DataLoaders: every nested relation costs one statement per kind, whatever
the page size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from strawberry.dataloader import DataLoader

from api.db import SessionMaker, reading
from api.grouping import group_by
from api.models import (
    Group,
    HistoryEvent,
    Membership,
    ProcessDefinition,
    ProcessInstance,
    Task,
    TaskComment,
    User,
)
from api.services.definitions import DefinitionService
from api.services.history import HistoryService
from api.services.instances import InstanceService
from api.services.tasks import TaskService


@dataclass(frozen=True)
class Loaders:
    user: DataLoader[uuid.UUID, User | None]
    groups_of_user: DataLoader[uuid.UUID, list[Group]]
    members_of_group: DataLoader[str, list[User]]
    definition: DataLoader[uuid.UUID, ProcessDefinition | None]
    instance: DataLoader[uuid.UUID, ProcessInstance | None]
    tasks_of_instance: DataLoader[uuid.UUID, list[Task]]
    history_of_instance: DataLoader[uuid.UUID, list[HistoryEvent]]
    comments_of_task: DataLoader[uuid.UUID, list[TaskComment]]
    comment_count: DataLoader[uuid.UUID, int]
    definition_spec: DataLoader[uuid.UUID, dict[str, Any]]


def build_loaders(
    sessions: SessionMaker,
    definitions: DefinitionService,
    instances: InstanceService,
    tasks: TaskService,
    history: HistoryService,
) -> Loaders:
    sessions = reading(sessions)

    async def users(ids: Sequence[uuid.UUID]) -> list[User | None]:
        async with sessions() as session:
            found = {u.id: u for u in await session.exec(select(User).where(col(User.id).in_(ids)))}
        return [found.get(i) for i in ids]

    async def groups_of_users(ids: Sequence[uuid.UUID]) -> list[list[Group]]:
        async with sessions() as session:
            rows = await session.exec(
                select(Membership.user_id, Group)
                .join(Group, col(Group.key) == Membership.group_key)
                .where(col(Membership.user_id).in_(ids))
                .order_by(col(Group.key))
            )
            grouped = group_by(ids, rows.all(), lambda pair: pair[0])
        return [[group for _, group in grouped[i]] for i in ids]

    async def members_of_groups(keys: Sequence[str]) -> list[list[User]]:
        async with sessions() as session:
            rows = await session.exec(
                select(Membership.group_key, User)
                .join(User, col(User.id) == Membership.user_id)
                .where(col(Membership.group_key).in_(keys))
                .order_by(col(User.username))
            )
            grouped = group_by(keys, rows.all(), lambda pair: pair[0])
        return [[user for _, user in grouped[k]] for k in keys]

    async def definitions_by_id(ids: Sequence[uuid.UUID]) -> list[ProcessDefinition | None]:
        return await definitions.by_ids(list(ids))

    async def instances_by_id(ids: Sequence[uuid.UUID]) -> list[ProcessInstance | None]:
        # Instances come with their definitions, which nearly every caller asks for next:
        # priming that loader saves the inbox a statement.
        found = await instances.with_definitions(list(ids))
        for _, definition in found.values():
            definition_loader.prime(definition.id, definition)
        return [found[i][0] if i in found else None for i in ids]

    async def tasks_by_instance(ids: Sequence[uuid.UUID]) -> list[list[Task]]:
        grouped = await tasks.for_instances(list(ids))
        return [grouped[i] for i in ids]

    async def history_by_instance(ids: Sequence[uuid.UUID]) -> list[list[HistoryEvent]]:
        grouped = await history.for_instances(list(ids))
        return [grouped[i] for i in ids]

    async def comments_by_task(ids: Sequence[uuid.UUID]) -> list[list[TaskComment]]:
        grouped = await tasks.comments_of(list(ids))
        return [grouped[i] for i in ids]

    async def comment_counts(ids: Sequence[uuid.UUID]) -> list[int]:
        counted = await tasks.comment_counts(list(ids))
        return [counted.get(i, 0) for i in ids]

    async def specs(ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
        async with sessions() as session:
            rows = await session.exec(
                select(col(ProcessDefinition.id), col(ProcessDefinition.spec)).where(
                    col(ProcessDefinition.id).in_(ids)
                )
            )
            found = dict(rows.all())
        return [found[i] for i in ids]

    definition_loader: DataLoader[uuid.UUID, ProcessDefinition | None] = DataLoader(
        definitions_by_id
    )
    return Loaders(
        user=DataLoader(users),
        groups_of_user=DataLoader(groups_of_users),
        members_of_group=DataLoader(members_of_groups),
        definition=definition_loader,
        instance=DataLoader(instances_by_id),
        tasks_of_instance=DataLoader(tasks_by_instance),
        history_of_instance=DataLoader(history_by_instance),
        comments_of_task=DataLoader(comments_by_task),
        comment_count=DataLoader(comment_counts),
        definition_spec=DataLoader(specs),
    )
