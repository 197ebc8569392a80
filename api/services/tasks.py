"""The task lifecycle: claim, assign, delegate, resolve, comment, reschedule, complete.

Every change but completion touches PostgreSQL only, under an optimistic lock on the
task's `version`, and records a history event in the same transaction; the event is
published after the commit. Completion also goes through the instance's workflow."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.db import SessionMaker, read_after_write, reading
from api.errors import BadUserInput, Conflict, FlowdeskError, Forbidden, NotFound, Unanswered
from api.events import EventBus
from api.grouping import group_by
from api.jsonschemas import validation_errors, variables_given
from api.models import (
    OPEN_TASK_STATUSES,
    DelegationState,
    PendingCompletion,
    Task,
    TaskComment,
    User,
    table_of,
)
from api.services.history import NewEvent, append_events, mark_log_writer, task_audience
from api.services.instance_access import seen_directly
from api.services.task_access import is_candidate, may_see, may_work
from api.workflow_updates import send_update
from engine.enums import HistoryEventType, TaskStatus
from engine.node_types import PRIORITY_MAX, PRIORITY_MIN
from engine.workflow_contract import UPDATE_COMPLETE_TASK, CompleteTaskInput, workflow_id

log = logging.getLogger(__name__)

MAX_COMMENT = 10_000

# A rule a change must pass, given the caller and the task as read: raises to refuse.
Check = Callable[[Principal, Task], None]


def _open(verb: str) -> Check:
    def check(principal: Principal, task: Task) -> None:
        if task.status not in OPEN_TASK_STATUSES:
            raise Conflict(f"the task is {task.status.value.lower()} and cannot be {verb}")

    return check


def _held_by_caller_or_admin(verb: str) -> Check:
    def check(principal: Principal, task: Task) -> None:
        if task.assignee_id != principal.id and not principal.is_admin:
            raise Forbidden(f"only the task's assignee may {verb} it")

    return check


def _not_delegated(principal: Principal, task: Task) -> None:
    # Unclaiming would silently drop the owner, who is waiting to get the task back.
    if task.delegation == DelegationState.PENDING:
        raise Conflict("the task is delegated; the delegate resolves it first")


def _workable(principal: Principal, task: Task) -> None:
    if not may_work(principal, task):
        raise Forbidden("this task is assigned to someone else")


# The outbox row's values besides its task id, taken from the PendingCompletion.
_OUTBOX_VALUES = ("instance_id", "actor_id", "variables", "previous_status")


def _win_completion() -> sa.Insert:
    """open -> COMPLETING where the version still matches, and the outbox row of the
    completion, in one statement; returns the task id when this caller won."""
    tasks = table_of(Task)
    outbox = table_of(PendingCompletion)
    won = (
        sa.update(tasks)
        .where(
            tasks.c.id == sa.bindparam("won_id"),
            tasks.c.version == sa.bindparam("won_version"),
        )
        .values(status=TaskStatus.COMPLETING, version=tasks.c.version + 1)
        .returning(tasks.c.id)
        .cte("won")
    )
    return (
        sa.insert(outbox)
        .from_select(
            ["task_id", *_OUTBOX_VALUES],
            sa.select(
                won.c.id,
                # Not named after the columns: parameters named so would be taken as
                # the INSERT's own VALUES.
                *(
                    sa.bindparam(f"won_{name}", type_=outbox.c[name].type)
                    for name in _OUTBOX_VALUES
                ),
            ),
        )
        .returning(outbox.c.task_id)
    )


_WIN_COMPLETION = _win_completion()


class TaskService:
    def __init__(
        self, sessions: SessionMaker, temporal: Client, bus: EventBus, *, answer_within: float
    ) -> None:
        self._sessions = sessions
        self._reads = reading(sessions)
        self._temporal = temporal
        self._bus = bus
        # How long a completion waits for the workflow before it answers COMPLETING.
        self._answer_within = answer_within

    async def get(self, principal: Principal, task_id: uuid.UUID) -> Task:
        async with self._reads() as session:
            return await self._visible(session, principal, task_id)

    async def visible(self, principal: Principal, tasks: Sequence[Task]) -> list[Task]:
        """The tasks among `tasks` the caller may see, as `get` decides: those they are
        involved in, and every task of an instance they see directly (instance_access)."""
        pending = {t.instance_id for t in tasks if not may_see(principal, t)}
        direct: set[uuid.UUID] = set()
        if pending:
            async with self._reads() as session:
                direct = await seen_directly(session, principal, pending)
        return [t for t in tasks if may_see(principal, t) or t.instance_id in direct]

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> list[Task | None]:
        async with self._reads() as session:
            rows = await session.exec(select(Task).where(col(Task.id).in_(ids)))
            found = {t.id: t for t in rows}
        return [found.get(i) for i in ids]

    async def for_instances(self, instance_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Task]]:
        async with self._reads() as session:
            rows = await session.exec(
                select(Task)
                .where(col(Task.instance_id).in_(instance_ids))
                .order_by(col(Task.created_at), col(Task.id))
            )
            return group_by(instance_ids, rows, lambda task: task.instance_id)

    async def comments_of(
        self, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[TaskComment]]:
        async with self._reads() as session:
            rows = await session.exec(
                select(TaskComment)
                .where(col(TaskComment.task_id).in_(task_ids))
                .order_by(col(TaskComment.created_at), col(TaskComment.id))
            )
            return group_by(task_ids, rows, lambda comment: comment.task_id)

    async def comment_counts(self, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """How many comments each task has, counted in PostgreSQL: an inbox shows the
        number, and loading every comment to count it grew with the conversation."""
        async with self._reads() as session:
            rows = await session.exec(
                select(col(TaskComment.task_id), sa.func.count())
                .where(col(TaskComment.task_id).in_(task_ids))
                .group_by(col(TaskComment.task_id))
            )
            return {task_id: count for task_id, count in rows}

    async def claim(self, principal: Principal, task_id: uuid.UUID) -> Task:
        def claimable(principal: Principal, task: Task) -> None:
            if not (is_candidate(principal, task) or principal.is_admin):
                raise Forbidden("only a candidate may claim this task")
            if task.assignee_id is not None:
                raise Conflict("the task is claimed by someone else and cannot be claimed")

        def held_by_caller(principal: Principal, task: Task) -> bool:
            # A claim retried by its winner (its answer was lost), or of a task assigned
            # to the caller already: what it asks for holds, so it succeeds as it stands.
            return task.status in OPEN_TASK_STATUSES and task.assignee_id == principal.id

        return await self._change(
            principal,
            task_id,
            [_open("claimed"), claimable],
            {"status": TaskStatus.CLAIMED, "assignee_id": principal.id},
            HistoryEventType.TASK_CLAIMED,
            done_already=held_by_caller,
        )

    async def unclaim(self, principal: Principal, task_id: uuid.UUID) -> Task:
        """Give a task back to its candidates."""
        return await self._change(
            principal,
            task_id,
            [_open("unclaimed"), _held_by_caller_or_admin("unclaim"), _not_delegated],
            {
                "status": TaskStatus.CREATED,
                "assignee_id": None,
                "owner_id": None,
                "delegation": None,
            },
            HistoryEventType.TASK_UNCLAIMED,
        )

    async def assign(self, principal: Principal, task_id: uuid.UUID, user_id: uuid.UUID) -> Task:
        """Hand a task to someone: its assignee may, and admins may assign any task."""
        await self._existing_user(user_id)

        def may_assign(principal: Principal, task: Task) -> None:
            # task:assign hands on any task its holder sees; the assignee hands on their own.
            if principal.can(Permission.TASK_ASSIGN):
                return
            if task.assignee_id != principal.id or not principal.can(Permission.TASK_WORK):
                raise Forbidden("only the task's assignee or a holder of task:assign may assign it")

        return await self._change(
            principal,
            task_id,
            [_open("assigned"), may_assign],
            {
                "status": TaskStatus.CLAIMED,
                "assignee_id": user_id,
                "owner_id": None,
                "delegation": None,
            },
            HistoryEventType.TASK_ASSIGNED,
            data={"assignee": str(user_id)},
            needs=None,
        )

    async def delegate(self, principal: Principal, task_id: uuid.UUID, user_id: uuid.UUID) -> Task:
        """Ask someone else to do the work; the task comes back to its owner on resolve."""
        await self._existing_user(user_id)
        if user_id == principal.id:
            raise BadUserInput("a task cannot be delegated to oneself", field="userId")

        def delegable(principal: Principal, task: Task) -> None:
            if task.assignee_id is None:
                raise Conflict("claim the task before delegating it")
            if task.delegation == DelegationState.PENDING:
                raise Conflict("the task is delegated already; resolve it first")

        return await self._change(
            principal,
            task_id,
            [_open("delegated"), _held_by_caller_or_admin("delegate"), delegable],
            lambda task: {
                "assignee_id": user_id,
                "owner_id": task.owner_id or task.assignee_id,
                "delegation": DelegationState.PENDING,
            },
            HistoryEventType.TASK_DELEGATED,
            data={"delegate": str(user_id)},
        )

    async def resolve(self, principal: Principal, task_id: uuid.UUID, variables: Any) -> Task:
        """The delegate is done: the owner gets the task back with the delegate's variables."""
        values = variables_given(variables)

        def delegated_to_caller(principal: Principal, task: Task) -> None:
            if task.delegation != DelegationState.PENDING:
                raise Conflict("the task is not delegated")
            if task.assignee_id != principal.id:
                raise Forbidden("only the delegate may resolve the task")

        return await self._change(
            principal,
            task_id,
            [_open("resolved"), delegated_to_caller],
            lambda task: {
                "assignee_id": task.owner_id,
                "delegation": DelegationState.RESOLVED,
                "variables": {**task.variables, **values},
            },
            HistoryEventType.TASK_RESOLVED,
            data={"variables": values},
        )

    async def set_priority(self, principal: Principal, task_id: uuid.UUID, priority: int) -> Task:
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            raise BadUserInput(
                f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}", field="priority"
            )
        return await self._change(
            principal,
            task_id,
            [_open("changed"), _workable],
            {"priority": priority},
            HistoryEventType.TASK_UPDATED,
            data={"priority": priority},
        )

    async def set_due(
        self, principal: Principal, task_id: uuid.UUID, due_at: datetime | None
    ) -> Task:
        return await self._change(
            principal,
            task_id,
            [_open("changed"), _workable],
            {"due_at": due_at},
            HistoryEventType.TASK_UPDATED,
            data={"dueAt": due_at.isoformat() if due_at else None},
        )

    async def set_follow_up(
        self, principal: Principal, task_id: uuid.UUID, follow_up_at: datetime | None
    ) -> Task:
        return await self._change(
            principal,
            task_id,
            [_open("changed"), _workable],
            {"follow_up_at": follow_up_at},
            HistoryEventType.TASK_UPDATED,
            data={"followUpAt": follow_up_at.isoformat() if follow_up_at else None},
        )

    async def comment(self, principal: Principal, task_id: uuid.UUID, message: str) -> TaskComment:
        """Anyone with task:work who may see a task may comment on it, open or closed."""
        principal.require(Permission.TASK_WORK)
        message = message.strip()
        if not message or len(message) > MAX_COMMENT:
            raise BadUserInput(f"a comment has 1 to {MAX_COMMENT} characters", field="message")
        async with self._sessions() as session, session.begin():
            task = await self._visible(session, principal, task_id)
            await mark_log_writer(await session.connection())
            # A comment changes the task as clients see it (comments, commentCount): its
            # version grows, so a client that compares versions notices.
            await session.exec(
                sa.update(Task)
                .where(col(Task.id) == task_id)
                .values(version=Task.version + 1)
                .execution_options(synchronize_session=False)
            )
            comment = TaskComment(task_id=task.id, author_id=principal.id, message=message)
            session.add(comment)
            await session.flush()
            events = await append_events(
                session,
                task.instance_id,
                [
                    self._event(
                        HistoryEventType.TASK_UPDATED, principal, task, {"comment": str(comment.id)}
                    )
                ],
            )
        await self._bus.publish(events)
        return comment

    async def complete(self, principal: Principal, task_id: uuid.UUID, variables: Any) -> Task:
        """Complete a task: exactly one caller wins.

        The winner is decided in PostgreSQL (open -> COMPLETING, where status and version
        still match) and committed with an outbox row; only then is the Temporal update
        sent, keyed by the task id, and awaited so the caller reads its own write."""
        principal.require(Permission.TASK_WORK)
        given = variables_given(variables)
        async with self._reads() as session:
            task = await self._visible(session, principal, task_id)
            recorded = (
                await session.get(PendingCompletion, task_id)
                if task.status == TaskStatus.COMPLETING
                else None
            )
        if recorded is not None and recorded.actor_id == principal.id:
            # The caller's own completion, recorded and not applied yet (its answer was
            # lost, or Temporal was away): a retry is answered as the first call was.
            return await self._completion_sent(recorded, principal)
        # Closed first: whoever completed a task became its assignee, and a candidate
        # who lost the race must hear CONFLICT, not that it is someone else's.
        _open("completed")(principal, task)
        # Before _workable: the owner no longer holds the task while it is delegated,
        # yet what they need to hear is that it comes back once resolved.
        if task.delegation == DelegationState.PENDING and principal.id in (
            task.owner_id,
            task.assignee_id,
        ):
            raise Conflict("the task is delegated; the delegate resolves it first")
        _workable(principal, task)
        # What a delegate resolved the task with, completed by the owner's own input.
        variables = {**task.variables, **given}
        errors = validation_errors(task.form, variables)
        if errors:
            raise BadUserInput(
                "invalid form data: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                fields=errors,
            )
        pending = PendingCompletion(
            task_id=task.id,
            instance_id=task.instance_id,
            actor_id=principal.id,
            variables=variables,
            previous_status=task.status,
        )
        # The task as read above, moved to COMPLETING with its outbox row: one statement,
        # atomic on its own, that finds no row when someone changed the task meanwhile.
        async with self._reads() as session:
            won = await session.exec(
                _WIN_COMPLETION,
                params={
                    "won_id": task.id,
                    "won_version": task.version,
                    **{f"won_{name}": getattr(pending, name) for name in _OUTBOX_VALUES},
                },
            )
            if won.first() is None:
                raise Conflict("the task changed meanwhile; it is being completed by someone else")
        return await self._completion_sent(pending, principal)

    async def _completion_sent(self, pending: PendingCompletion, principal: Principal) -> Task:
        """Deliver a recorded completion and return the task: COMPLETED once the workflow
        took it, still COMPLETING when Temporal did not answer in time (the relay then
        delivers it, and the task's subscribers hear TASK_COMPLETED)."""
        with contextlib.suppress(Unanswered):
            await self.deliver(pending, actor=principal.username)
        return await read_after_write(lambda: self._task(pending.task_id))

    async def _task(self, task_id: uuid.UUID) -> Task:
        async with self._reads() as session:
            task = await session.get(Task, task_id, populate_existing=True)
        assert task is not None
        return task

    async def deliver(self, pending: PendingCompletion, *, actor: str | None) -> None:
        """Send the completion update; idempotent by the task id, so the relay may resend it.

        A refused update (or an instance that ended meanwhile) puts the task back as it
        was; no answer in time (`Unanswered`) leaves the outbox row for the relay."""
        handle = self._temporal.get_workflow_handle(workflow_id(str(pending.instance_id)))
        update = CompleteTaskInput(
            task_id=str(pending.task_id),
            variables=pending.variables,
            actor=actor,
            actor_id=str(pending.actor_id),
        )
        try:
            await send_update(
                handle,
                UPDATE_COMPLETE_TASK,
                update,
                id=str(pending.task_id),
                deadline=self._answer_within,
            )
        except Unanswered:
            raise
        except FlowdeskError:
            await self._roll_back(pending)
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

    async def _change(
        self,
        principal: Principal,
        task_id: uuid.UUID,
        checks: list[Check],
        values: dict[str, Any] | Callable[[Task], dict[str, Any]],
        event: HistoryEventType,
        *,
        data: dict[str, Any] | None = None,
        needs: Permission | None = Permission.TASK_WORK,
        done_already: Callable[[Principal, Task], bool] | None = None,
    ) -> Task:
        """Apply `values` if the caller holds `needs` and every check passes on the task as
        read and nobody changed it since (its version still matches): one transaction with
        its history event. When `done_already` holds for the task as read, it is returned
        unchanged."""
        if needs is not None:
            principal.require(needs)
        async with self._sessions() as session, session.begin():
            task = await self._visible(session, principal, task_id)
            if done_already is not None and done_already(principal, task):
                return task
            for check in checks:
                check(principal, task)
            if callable(values):
                values = values(task)
            # Taken now: the UPDATE below refreshes `task` itself (it is the same identity
            # as the row it returns), and the people it leaves must hear of it too.
            before = (task.assignee_id, task.owner_id)
            await mark_log_writer(await session.connection())
            changed: Task | None = (
                (
                    await session.exec(
                        sa.update(Task)
                        .where(col(Task.id) == task_id, col(Task.version) == task.version)
                        .values(**values, version=Task.version + 1)
                        .returning(Task)
                    )
                )
                .scalars()
                .first()
            )
            if changed is None:
                # Changed by a concurrent call: perhaps this caller's own, retried.
                current = await session.get(Task, task_id, populate_existing=True)
                if done_already is not None and current and done_already(principal, current):
                    return current
                raise Conflict("the task changed meanwhile; read it again")
            events = await append_events(
                session,
                task.instance_id,
                # The previous assignee (and owner) hear of it too: it left their hands.
                [self._event(event, principal, changed, data or {}, *before)],
            )
        await self._bus.publish(events)
        return changed

    @staticmethod
    def _event(
        type: HistoryEventType,
        principal: Principal,
        task: Task,
        data: dict[str, Any],
        *also: uuid.UUID | None,
    ) -> NewEvent:
        return NewEvent(
            type,
            at=datetime.now(UTC),
            node_id=task.node_id,
            task_id=task.id,
            actor_id=principal.id,
            data=data,
            # The owner of a delegated task follows it until it comes back.
            **task_audience(task, principal.id, task.owner_id, *also),
        )

    async def _existing_user(self, user_id: uuid.UUID) -> None:
        async with self._reads() as session:
            if await session.get(User, user_id) is None:
                raise NotFound("no such user", field="userId")

    @staticmethod
    async def _visible(session: AsyncSession, principal: Principal, task_id: uuid.UUID) -> Task:
        """The task, when the caller may see it; the same NOT_FOUND when it does not exist
        or may not be seen."""
        task = await session.get(Task, task_id)
        if task is None or not (
            may_see(principal, task) or await seen_directly(session, principal, {task.instance_id})
        ):
            raise NotFound("no such task")
        return task
