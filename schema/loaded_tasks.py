"""The relations a page of tasks selects, loaded ahead in one batch each (schema/loaded.py
says why)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from api import models
from schema.common import Ctx
from schema.loaded import selected


async def load_task_relations(info: Ctx, tasks: list[models.Task]) -> None:
    """Load the relations the page's selection asks for, one batch each, so that its
    nested fields resolve without an await (schema/loaded.py)."""
    wanted = selected(info, "edges", "node")
    loaders = info.context.loaders
    users = {
        user_id
        for task in tasks
        for user_id in (
            task.assignee_id if "assignee" in wanted else None,
            task.owner_id if "owner" in wanted else None,
            task.completed_by if "completedBy" in wanted else None,
            *(task.candidate_users if "candidateUsers" in wanted else ()),
        )
        if user_id is not None
    }
    batches: list[Awaitable[object]] = [loaders.user.load_many(list(users))] if users else []
    if "instance" in wanted:
        # Instances come with their definitions (the instance loader primes those).
        batches.append(loaders.instance.load_many([task.instance_id for task in tasks]))
    if "comments" in wanted:
        batches.append(loaders.comments_of_task.load_many([task.id for task in tasks]))
    if "commentCount" in wanted:
        batches.append(loaders.comment_count.load_many([task.id for task in tasks]))
    await asyncio.gather(*batches)
