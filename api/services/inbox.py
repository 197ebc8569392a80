"""The inbox query: tasks filtered, ordered and keyset-paginated, and the inbox badges.

Keyset pagination (on the sort keys plus the id) keeps cursors stable while tasks
arrive: a page never repeats or skips a task because one was created meanwhile."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from api.auth.principal import Principal
from api.cursors import Keyset, as_given
from api.db import SessionMaker, reading
from api.errors import BadUserInput
from api.models import OPEN_TASK_STATUSES, ProcessDefinition, ProcessInstance, Task, task_is_open
from api.services.task_access import candidate_sql, inbox_sql, visible_sql
from engine.enums import TaskStatus

_FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
_FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)


class TaskOrderField(enum.StrEnum):
    CREATED = "CREATED"
    DUE = "DUE"
    PRIORITY = "PRIORITY"
    NAME = "NAME"


@dataclass(frozen=True)
class TaskOrder:
    field: TaskOrderField
    descending: bool


DEFAULT_ORDER = (TaskOrder(TaskOrderField.CREATED, descending=True),)


@dataclass(frozen=True)
class TaskQuery:
    """What the inbox shows. Without any of the assignment filters it is the caller's
    inbox (theirs, or claimable by them); `statuses` defaults to the open ones."""

    assigned_to_me: bool | None = None
    assignee_id: uuid.UUID | None = None
    unassigned: bool | None = None
    candidate_for_me: bool | None = None
    statuses: tuple[TaskStatus, ...] | None = None
    definition_key: str | None = None
    instance_id: uuid.UUID | None = None
    business_key: str | None = None
    name_contains: str | None = None
    priority_min: int | None = None
    priority_max: int | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    overdue: bool | None = None


@dataclass(frozen=True)
class _Key:
    expression: Any  # a column or SQL expression
    descending: bool
    value_of: Callable[[Task], Any]
    parse: Callable[[Any], Any]


def _key(order: TaskOrder) -> _Key:
    d = order.descending
    match order.field:
        case TaskOrderField.CREATED:
            return _Key(
                col(Task.created_at), d, lambda t: t.created_at.isoformat(), datetime.fromisoformat
            )
        case TaskOrderField.DUE:
            # Tasks without a due date come last either way.
            missing = _FAR_PAST if d else _FAR_FUTURE
            return _Key(
                sa.func.coalesce(col(Task.due_at), missing),
                d,
                lambda t: (t.due_at or missing).isoformat(),
                datetime.fromisoformat,
            )
        case TaskOrderField.PRIORITY:
            return _Key(col(Task.priority), d, lambda t: t.priority, int)
        case TaskOrderField.NAME:
            return _Key(col(Task.name), d, lambda t: t.name, str)


class InboxService:
    def __init__(self, sessions: SessionMaker) -> None:
        self._reads = reading(sessions)

    async def page(
        self,
        principal: Principal,
        query: TaskQuery,
        *,
        order: tuple[TaskOrder, ...] = DEFAULT_ORDER,
        after: str | None,
        limit: int,
    ) -> list[tuple[Task, str]]:
        """Up to `limit` tasks with their cursors."""
        order = order or DEFAULT_ORDER
        keys = [_key(o) for o in order]
        keys.append(_Key(col(Task.id), keys[-1].descending, lambda t: str(t.id), uuid.UUID))
        # The cursor names its order: the values of one order can pass for another's (two
        # timestamps, or one key the other way round), and would page wrongly.
        signature = _signature(order)
        # The inbox reads the values itself: what fails says which order the cursor was for.
        keyset = Keyset((as_given, *(as_given for _ in keys)))
        statement = select(Task).where(*self._conditions(principal, query))
        statement = self._joined(statement, query)
        if after is not None:
            statement = statement.where(_after(keys, _decode(keyset, after, signature, keys)))
        statement = statement.order_by(
            *(k.expression.desc() if k.descending else k.expression.asc() for k in keys)
        ).limit(limit)
        async with self._reads() as session:
            rows = (await session.exec(statement)).all()
        return keyset.paged(rows, lambda task: (signature, *(k.value_of(task) for k in keys)))

    async def counts(self, principal: Principal) -> dict[str, int]:
        """The inbox badges: assigned to me, claimable through my groups, overdue."""
        is_open = task_is_open()
        mine = sa.and_(is_open, col(Task.assignee_id) == principal.id)
        claimable = sa.and_(is_open, col(Task.assignee_id).is_(None), candidate_sql(principal))
        overdue = sa.and_(inbox_sql(principal), col(Task.due_at) < sa.func.now())
        statement = select(
            sa.func.count().filter(mine),
            sa.func.count().filter(claimable),
            sa.func.count().filter(overdue),
        ).where(inbox_sql(principal))
        async with self._reads() as session:
            row = (await session.exec(statement)).one()
        return {"mine": int(row[0]), "groups": int(row[1]), "overdue": int(row[2])}

    @staticmethod
    def _conditions(principal: Principal, q: TaskQuery) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        by_assignment = (q.assigned_to_me, q.assignee_id, q.unassigned, q.candidate_for_me)
        if all(v is None for v in by_assignment) and q.statuses is None:
            # The inbox proper: within what the caller may see, and indexed as it stands.
            conditions.append(inbox_sql(principal))
        else:
            conditions.append(visible_sql(principal))
            if q.statuses is None or set(q.statuses) == set(OPEN_TASK_STATUSES):
                conditions.append(task_is_open())
            else:
                conditions.append(col(Task.status).in_(q.statuses))
        if q.assigned_to_me is not None:
            # IS DISTINCT FROM: an unassigned task is not assigned to me (a plain <> would
            # be NULL for it, and drop it).
            conditions.append(
                col(Task.assignee_id) == principal.id
                if q.assigned_to_me
                else col(Task.assignee_id).is_distinct_from(principal.id)
            )
        if q.assignee_id is not None:
            conditions.append(col(Task.assignee_id) == q.assignee_id)
        if q.unassigned is not None:
            none = col(Task.assignee_id).is_(None)
            conditions.append(none if q.unassigned else sa.not_(none))
        if q.candidate_for_me is not None:
            candidate = candidate_sql(principal)
            conditions.append(candidate if q.candidate_for_me else sa.not_(candidate))
        if q.instance_id is not None:
            conditions.append(col(Task.instance_id) == q.instance_id)
        if q.name_contains:
            escaped = q.name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(col(Task.name).ilike(f"%{escaped}%", escape="\\"))
        if q.priority_min is not None:
            conditions.append(col(Task.priority) >= q.priority_min)
        if q.priority_max is not None:
            conditions.append(col(Task.priority) <= q.priority_max)
        if q.due_before is not None:
            conditions.append(col(Task.due_at) < q.due_before)
        if q.due_after is not None:
            conditions.append(col(Task.due_at) > q.due_after)
        if q.created_before is not None:
            conditions.append(col(Task.created_at) < q.created_before)
        if q.created_after is not None:
            conditions.append(col(Task.created_at) > q.created_after)
        if q.overdue is not None:
            # NULL-safe: a task without a due date is not overdue, rather than unknown (NOT
            # of unknown would drop it from overdue: false).
            late = sa.and_(
                col(Task.due_at).is_not(None), col(Task.due_at) < sa.func.now(), task_is_open()
            )
            conditions.append(late if q.overdue else sa.not_(late))
        return conditions

    @staticmethod
    def _joined(statement: Any, q: TaskQuery) -> Any:
        """Filters on the instance or its definition join them in; others do not pay for it."""
        if q.business_key is None and q.definition_key is None:
            return statement
        statement = statement.join(ProcessInstance, col(ProcessInstance.id) == Task.instance_id)
        if q.business_key is not None:
            statement = statement.where(col(ProcessInstance.business_key) == q.business_key)
        if q.definition_key is not None:
            statement = statement.join(
                ProcessDefinition, col(ProcessDefinition.id) == ProcessInstance.definition_id
            ).where(col(ProcessDefinition.key) == q.definition_key)
        return statement


def _signature(order: tuple[TaskOrder, ...]) -> str:
    return ",".join(f"{o.field.value}:{'desc' if o.descending else 'asc'}" for o in order)


def _decode(keyset: Keyset, cursor: str, signature: str, keys: list[_Key]) -> list[Any]:
    position = keyset.position(cursor)
    assert position is not None
    made_for, *raw = position
    if made_for != signature:
        raise BadUserInput("this cursor was made for another order", field="after")
    try:
        return [key.parse(value) for key, value in zip(keys, raw, strict=True)]
    except (TypeError, ValueError) as exc:
        raise BadUserInput(
            "invalid cursor (was it made for another order?)", field="after"
        ) from exc


def _after(keys: list[_Key], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows after `values` in the order of `keys`, whatever mix of directions they have."""
    branches = []
    for i, key in enumerate(keys):
        equal = [keys[j].expression == values[j] for j in range(i)]
        beyond = key.expression < values[i] if key.descending else key.expression > values[i]
        branches.append(sa.and_(*equal, beyond))
    return sa.or_(*branches)
