"""The completion relay: re-sends completions that won in PostgreSQL but whose Temporal
update never landed (the API died after its commit, or Temporal was briefly away).

Safe to run in every worker: the update id is the task id, so Temporal applies a
completion once however often it is sent."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from api.db import SessionMaker
from api.errors import FlowdeskError, Unanswered
from api.models import PendingCompletion, User
from api.services.tasks import TaskService

log = logging.getLogger(__name__)


async def resend_pending(
    sessions: SessionMaker, tasks: TaskService, *, older_than: timedelta
) -> int:
    """Deliver every completion pending for longer than `older_than`; returns how many landed.

    No row lock is held while the update runs: the workflow's activity deletes the row."""
    cutoff = datetime.now(UTC) - older_than
    async with sessions() as session:
        rows = await session.exec(
            select(PendingCompletion, User.username)
            .join(User, col(User.id) == PendingCompletion.actor_id)
            .where(col(PendingCompletion.created_at) < cutoff)
            .order_by(col(PendingCompletion.created_at))
            .limit(500)
        )
        pending = list(rows.all())
    landed = 0
    for completion, username in pending:
        try:
            await tasks.deliver(completion, actor=username)
            landed += 1
        except Unanswered:
            log.warning("completion of task %s not delivered yet", completion.task_id)
        except FlowdeskError as exc:
            log.warning("completion of task %s refused: %s", completion.task_id, exc.message)
    return landed


async def run_relay(sessions: SessionMaker, tasks: TaskService, *, every: float) -> None:
    while True:
        try:
            await resend_pending(sessions, tasks, older_than=timedelta(seconds=every))
        except Exception:
            log.exception("completion relay pass failed")
        await asyncio.sleep(every)
