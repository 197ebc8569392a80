"""SQLModel tables: the read model GraphQL serves. Changed only through Alembic migrations."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel, col

from engine.enums import HistoryEventType, InstanceStatus, TaskStatus

# Constraint names are fixed so that migrations and models stay comparable.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class DelegationState(enum.StrEnum):
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"


def _enum(kind: type[enum.StrEnum], name: str) -> sa.Enum:
    # VARCHAR plus a CHECK constraint: adding a member later is a plain migration,
    # not an ALTER TYPE that cannot run inside a transaction.
    return sa.Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _now() -> sa.TextClause:
    return sa.text("now()")


def _tz(**kwargs: Any) -> sa.Column[Any]:
    return sa.Column(sa.DateTime(timezone=True), **kwargs)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(sa_column=sa.Column(sa.String(150), nullable=False, unique=True))
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    password_hash: str = Field(max_length=200)
    roles: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.String(64)), nullable=False, server_default="{}"),
    )
    created_at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )
    # A deactivated user can no longer log in, and their tokens are refused.
    active: bool = Field(
        default=True, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.true())
    )


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    key: str = Field(primary_key=True, max_length=150)
    name: str | None = Field(default=None, max_length=200)


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    group_key: str = Field(
        foreign_key="groups.key", primary_key=True, max_length=150, ondelete="CASCADE", index=True
    )


class ProcessDefinition(SQLModel, table=True):
    __tablename__ = "process_definitions"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key: str = Field(max_length=150)
    version: int
    name: str = Field(max_length=200)
    spec: dict[str, Any] = Field(sa_column=sa.Column(pg.JSONB, nullable=False))
    checksum: str = Field(max_length=64)
    suspended: bool = False
    # The document's `startableBy` and `visibleTo`, kept beside it: pages of instances
    # leave the document out, and their definitions' rights are still needed.
    rights: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(pg.JSONB, nullable=False, server_default="{}")
    )
    deployed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    deployed_at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )


class ProcessInstance(SQLModel, table=True):
    __tablename__ = "process_instances"
    __table_args__ = (
        # Reports take a definition's instances started, or completed, in a window.
        sa.Index("ix_process_instances_definition_started", "definition_id", "started_at"),
        sa.Index(
            "ix_process_instances_definition_completed",
            "definition_id",
            "ended_at",
            postgresql_where=sa.text("status = 'COMPLETED'"),
        ),
        # startProcess's idempotency key is the caller's own: the same key from the same
        # caller names one instance.
        sa.UniqueConstraint("started_by", "request_id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    definition_id: uuid.UUID = Field(foreign_key="process_definitions.id", index=True)
    business_key: str | None = Field(default=None, max_length=200, index=True)
    status: InstanceStatus = Field(
        sa_column=sa.Column(_enum(InstanceStatus, "instance_status"), nullable=False)
    )
    variables: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(pg.JSONB, nullable=False, server_default="{}")
    )
    started_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # The requestId startProcess was given, if any.
    request_id: str | None = Field(default=None, max_length=200)
    # The instance whose call activity started this one.
    parent_id: uuid.UUID | None = Field(
        default=None, foreign_key="process_instances.id", index=True
    )
    # The last transition applied, so an activity retried by Temporal applies it once.
    step: int = 0
    # The last history sequence number handed out for this instance.
    last_seq: int = 0
    incident: str | None = None
    started_at: datetime = Field(sa_column=_tz(nullable=False, server_default=_now()))
    ended_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))


OPEN_TASK_STATUSES = (TaskStatus.CREATED, TaskStatus.CLAIMED)
# Spelled out, not bound: the partial indexes below serve only queries whose predicate
# names these literals, and a prepared statement's generic plan cannot see bound values.
_OPEN = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_TASK_STATUSES))


# GIN's fast update parks new entries in a pending list that every search scans in full
# until VACUUM merges it: measured here, an inbox page took 5.6 ms right after a bulk of
# new tasks against 0.48 ms after VACUUM. Tasks arrive all day; insert into the index
# directly instead.
_GIN_WITHOUT_PENDING_LIST = {"fastupdate": "off"}


def task_is_open() -> sa.ColumnElement[bool]:
    """The open-task predicate exactly as the partial indexes state it."""
    return sa.text(f"tasks.{_OPEN}")  # type: ignore[return-value]


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        # The two inbox lookups, over open tasks only (see DESIGN.md: a partial index keeps the
        # page flat as closed tasks pile up).
        sa.Index(
            "ix_tasks_open_assignee",
            "assignee_id",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
            postgresql_where=sa.text(f"{_OPEN} AND assignee_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_tasks_open_candidate_groups",
            "candidate_groups",
            postgresql_using="gin",
            postgresql_with=_GIN_WITHOUT_PENDING_LIST,
            postgresql_where=sa.text(f"{_OPEN} AND assignee_id IS NULL"),
        ),
        sa.Index(
            "ix_tasks_open_candidate_users",
            "candidate_users",
            postgresql_using="gin",
            postgresql_with=_GIN_WITHOUT_PENDING_LIST,
            postgresql_where=sa.text(f"{_OPEN} AND assignee_id IS NULL"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    instance_id: uuid.UUID = Field(foreign_key="process_instances.id", index=True)
    node_id: str = Field(max_length=150)
    name: str = Field(max_length=200)
    status: TaskStatus = Field(
        sa_column=sa.Column(_enum(TaskStatus, "task_status"), nullable=False)
    )
    assignee_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    candidate_users: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.Uuid), nullable=False, server_default="{}"),
    )
    candidate_groups: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.String(150)), nullable=False, server_default="{}"),
    )
    priority: int = 50
    due_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    form: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(pg.JSONB, nullable=True))
    version: int = 1
    created_at: datetime = Field(sa_column=_tz(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    completed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # Who delegated it and gets it back on resolve, as in Flowable and Camunda.
    owner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    delegation: DelegationState | None = Field(
        default=None, sa_column=sa.Column(_enum(DelegationState, "delegation_state"), nullable=True)
    )
    follow_up_at: datetime | None = Field(default=None, sa_column=_tz(nullable=True))
    # Variables a delegate resolved the task with; they complete it together with the owner's.
    variables: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(pg.JSONB, nullable=False, server_default="{}")
    )


class TaskComment(SQLModel, table=True):
    __tablename__ = "task_comments"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    task_id: uuid.UUID = Field(foreign_key="tasks.id", index=True, ondelete="CASCADE")
    author_id: uuid.UUID = Field(foreign_key="users.id")
    message: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )


class PendingCompletion(SQLModel, table=True):
    """Outbox: a task won in PostgreSQL whose Temporal update has not landed yet."""

    __tablename__ = "pending_completions"

    task_id: uuid.UUID = Field(foreign_key="tasks.id", primary_key=True, ondelete="CASCADE")
    instance_id: uuid.UUID = Field(foreign_key="process_instances.id")
    actor_id: uuid.UUID = Field(foreign_key="users.id")
    variables: dict[str, Any] = Field(sa_column=sa.Column(pg.JSONB, nullable=False))
    previous_status: TaskStatus = Field(
        sa_column=sa.Column(_enum(TaskStatus, "task_status"), nullable=False)
    )
    created_at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )


class ArchivedInstance(SQLModel, table=True):
    """A finished instance moved out of the live tables (api/services/archive.py): its
    summary, and in `document` every row it had, to list it and to put it back."""

    __tablename__ = "archived_instances"
    __table_args__ = (
        # archivedInstances lists the most recently ended first.
        sa.Index("ix_archived_instances_ended_at_id", "ended_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    definition_id: uuid.UUID = Field(foreign_key="process_definitions.id", index=True)
    business_key: str | None = Field(default=None, max_length=200, index=True)
    status: InstanceStatus = Field(
        sa_column=sa.Column(_enum(InstanceStatus, "instance_status"), nullable=False)
    )
    started_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    started_at: datetime = Field(sa_column=_tz(nullable=False))
    ended_at: datetime = Field(sa_column=_tz(nullable=False))
    archived_at: datetime = Field(sa_column=_tz(nullable=False, server_default=_now()))
    document: dict[str, Any] = Field(sa_column=sa.Column(pg.JSONB, nullable=False))


class HistoryEvent(SQLModel, table=True):
    """Append-only execution trace, and the log every subscription reads.

    `tx` is the writing transaction's id: rows of one transaction appear together at its
    commit, and (tx, id) orders them so that a reader which only reads below the oldest
    writer of the log still running never sees a row appear behind its cursor (see
    api/services/event_log.py). The audience is
    fixed when the event is written: who the event concerned then (a task's assignee
    before and after, its candidates, the actor), not who it concerns now."""

    __tablename__ = "history_events"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "seq"),
        sa.Index("ix_history_events_tx_id", "tx", "id"),
        sa.Index("ix_history_events_audience_users", "audience_users", postgresql_using="gin"),
        sa.Index("ix_history_events_audience_groups", "audience_groups", postgresql_using="gin"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    tx: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
        ),
    )
    instance_id: uuid.UUID = Field(foreign_key="process_instances.id")
    seq: int
    type: HistoryEventType = Field(
        sa_column=sa.Column(_enum(HistoryEventType, "history_event_type"), nullable=False)
    )
    node_id: str | None = Field(default=None, max_length=150)
    task_id: uuid.UUID | None = Field(default=None, index=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    at: datetime = Field(sa_column=_tz(nullable=False))
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(pg.JSONB, nullable=False, server_default="{}")
    )
    audience_users: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.Uuid), nullable=False, server_default="{}"),
    )
    audience_groups: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.String(150)), nullable=False, server_default="{}"),
    )


class Role(SQLModel, table=True):
    """A custom role; the built-in ones are defined in code (api/auth/permissions.py)."""

    __tablename__ = "roles"

    name: str = Field(primary_key=True, max_length=64)
    description: str | None = Field(default=None, max_length=500)
    permissions: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(pg.ARRAY(sa.String(64)), nullable=False, server_default="{}"),
    )
    created_at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )


class DefinitionOwner(SQLModel, table=True):
    """Who may deploy new versions of a key: its first deployer, and whom owners add."""

    __tablename__ = "definition_owners"

    key: str = Field(primary_key=True, max_length=150)
    user_id: uuid.UUID = Field(
        foreign_key="users.id", primary_key=True, ondelete="CASCADE", index=True
    )


class AuditEntry(SQLModel, table=True):
    """One change to people, groups or roles: who, when, and each field's old and new value
    (`changes` maps a field to `[old, new]`; a password is only ever said to change)."""

    __tablename__ = "audit_log"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    at: datetime = Field(
        default_factory=_utcnow, sa_column=_tz(nullable=False, server_default=_now())
    )
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    action: str = Field(max_length=64)
    target_type: str = Field(max_length=32)
    target: str = Field(max_length=200)
    changes: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(pg.JSONB, nullable=False, server_default="{}")
    )


def overlaps(column: Any, values: Iterable[str]) -> sa.ColumnElement[bool]:
    """`column && values` for a text array column, which its GIN index serves."""
    items = sorted(values)
    if not items:
        return sa.false()
    return col(column).op("&&", return_type=sa.Boolean)(sa.cast(items, pg.ARRAY(sa.String(150))))


def table_of(model: type[SQLModel]) -> sa.Table:
    """A model's table, for Core statements where ORM objects are not wanted (SQLModel
    leaves `__table__` untyped)."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table
