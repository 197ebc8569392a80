"""Reports over history: how a definition's instances fared and where their time went.

Every figure covers the instances *started* in the window [since, until) and says what
became of them: a window's `completed` are those of its instances that have completed by
now, so the counts of one window add up to its `started`. Everything is computed in
PostgreSQL, in one statement per part, over the index on (definition_id, started_at)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col, select

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.db import SessionMaker, engine_of, reading
from api.errors import BadUserInput, NotFound
from api.models import DefinitionOwner, ProcessDefinition

# A throughput series longer than this is a mistake (a minute interval over years).
MAX_BUCKETS = 10_000
SLOWEST = 10


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class NodeStats:
    node_id: str
    passes: int
    duration: Percentiles
    # User tasks only: created until first claimed or assigned, then until completed.
    waiting: Percentiles | None
    working: Percentiles | None
    sla_breaches: int


@dataclass(frozen=True)
class SlowStep:
    instance_id: uuid.UUID
    node_id: str
    seconds: float


@dataclass(frozen=True)
class DefinitionStats:
    started: int
    completed: int
    cancelled: int
    terminated: int
    running: int
    incidents: int
    duration: Percentiles | None
    nodes: list[NodeStats]
    slowest: list[SlowStep]


@dataclass(frozen=True)
class ThroughputPoint:
    at: datetime
    started: int
    completed: int


# The parameters' types, so that PostgreSQL never has to guess them (`:until - :step`).
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "definitions": pg.ARRAY(sa.Uuid),
    "since": sa.DateTime(timezone=True),
    "until": sa.DateTime(timezone=True),
    "step": sa.Interval(),
    "limit": sa.Integer(),
}


def _statement(sql: str) -> sa.TextClause:
    used: list[sa.BindParameter[Any]] = [
        sa.bindparam(name, type_=kind) for name, kind in _TYPES.items() if f":{name}" in sql
    ]
    return sa.text(sql).bindparams(*used)


# The instances of the report: of the chosen definition versions, started in the window.
_INSTANCES = """
instances AS (
    SELECT id, status, started_at, ended_at FROM process_instances
    WHERE definition_id = ANY(:definitions) AND started_at >= :since AND started_at < :until
)"""

_COUNTS = _statement(
    f"WITH {_INSTANCES}"
    """
SELECT count(*) AS started,
       count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
       count(*) FILTER (WHERE status = 'CANCELLED') AS cancelled,
       count(*) FILTER (WHERE status = 'TERMINATED') AS terminated,
       count(*) FILTER (WHERE status IN ('RUNNING', 'SUSPENDED')) AS running,
       count(*) FILTER (WHERE status = 'INCIDENT') AS incidents,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM ended_at - started_at)
       ) FILTER (WHERE status = 'COMPLETED') AS duration
FROM instances"""
)

# One pass through a node is a NODE_ENTERED and the NODE_LEFT that follows it for the same
# node of the same instance; a node entered again (a loop) is a second pass.
_PASSES = (
    f"WITH {_INSTANCES},"
    """
marks AS (
    SELECT h.instance_id, h.node_id, h.type, h.at,
           lead(h.type) OVER pass AS next_type, lead(h.at) OVER pass AS next_at
    FROM history_events h JOIN instances i ON i.id = h.instance_id
    WHERE h.type IN ('NODE_ENTERED', 'NODE_LEFT')
    WINDOW pass AS (PARTITION BY h.instance_id, h.node_id ORDER BY h.seq)
),
passes AS (
    SELECT instance_id, node_id, extract(epoch FROM next_at - at) AS seconds FROM marks
    WHERE type = 'NODE_ENTERED' AND next_type = 'NODE_LEFT'
)"""
)

_NODES = _statement(
    _PASSES
    + """
SELECT node_id, count(*) AS passes,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY seconds) AS duration
FROM passes GROUP BY node_id ORDER BY node_id"""
)

_SLOWEST = _statement(_PASSES + "\nSELECT * FROM passes ORDER BY seconds DESC LIMIT :limit")

# A completed task's wait ends when someone first took it (claimed, or was assigned); one
# completed by a candidate without claiming it waited all its life and worked no time.
_TASKS = _statement(
    f"WITH {_INSTANCES},"
    """
done AS (
    SELECT t.id, t.node_id, t.created_at, t.completed_at, t.due_at,
           coalesce(
               (SELECT min(h.at) FROM history_events h
                WHERE h.task_id = t.id AND h.type IN ('TASK_CLAIMED', 'TASK_ASSIGNED')),
               t.completed_at
           ) AS taken_at
    FROM tasks t JOIN instances i ON i.id = t.instance_id
    WHERE t.status = 'COMPLETED'
)
SELECT node_id,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM taken_at - created_at)
       ) AS waiting,
       percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (
           ORDER BY extract(epoch FROM completed_at - taken_at)
       ) AS working,
       count(*) FILTER (WHERE completed_at > due_at) AS sla_breaches
FROM done GROUP BY node_id"""
)

_THROUGHPUT = _statement(
    f"WITH {_INSTANCES},"
    """
buckets AS (
    SELECT generate_series(:since, :until - :step, :step) AS at
),
starts AS (
    SELECT date_bin(:step, started_at, :since) AS at, count(*) AS n FROM instances GROUP BY 1
),
ends AS (
    SELECT date_bin(:step, ended_at, :since) AS at, count(*) AS n FROM process_instances
    WHERE definition_id = ANY(:definitions) AND status = 'COMPLETED'
      AND ended_at >= :since AND ended_at < :until
    GROUP BY 1
)
SELECT b.at, coalesce(s.n, 0) AS started, coalesce(e.n, 0) AS completed
FROM buckets b LEFT JOIN starts s ON s.at = b.at LEFT JOIN ends e ON e.at = b.at
ORDER BY b.at"""
)


def _percentiles(values: list[float] | None) -> Percentiles | None:
    return Percentiles(*values) if values else None


class ReportService:
    def __init__(self, sessions: SessionMaker) -> None:
        self._reads = reading(sessions)
        # The parts of one report read one snapshot, so that they agree with each other.
        self._snapshot = engine_of(sessions).execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )

    async def _definitions(
        self, principal: Principal, key: str, version: int | None
    ) -> list[uuid.UUID]:
        """The versions a report covers, when the caller may see reports of `key`: with
        history:read, admins and the key's owners. Others are told it does not exist."""
        principal.require(Permission.HISTORY_READ)
        query = select(ProcessDefinition.id).where(col(ProcessDefinition.key) == key)
        if version is not None:
            query = query.where(col(ProcessDefinition.version) == version)
        owner = select(DefinitionOwner.key).where(
            col(DefinitionOwner.key) == key, col(DefinitionOwner.user_id) == principal.id
        )
        async with self._reads() as session:
            ids = list((await session.exec(query)).all())
            owns = principal.is_admin or (await session.exec(owner)).first() is not None
        if not ids or not owns:
            which = f"'{key}'" if version is None else f"'{key}' version {version}"
            raise NotFound(f"no process definition {which}")
        return ids

    async def definition_stats(
        self,
        principal: Principal,
        key: str,
        version: int | None,
        since: datetime,
        until: datetime,
    ) -> DefinitionStats:
        params = {
            "definitions": await self._definitions(principal, key, version),
            **_window(since, until),
        }
        async with self._snapshot.connect() as connection:
            counts = (await connection.execute(_COUNTS, params)).one()
            nodes = (await connection.execute(_NODES, params)).all()
            tasks = {row.node_id: row for row in (await connection.execute(_TASKS, params)).all()}
            slowest = (await connection.execute(_SLOWEST, {**params, "limit": SLOWEST})).all()
        return DefinitionStats(
            started=counts.started,
            completed=counts.completed,
            cancelled=counts.cancelled,
            terminated=counts.terminated,
            running=counts.running,
            incidents=counts.incidents,
            duration=_percentiles(counts.duration),
            nodes=[_node_stats(row, tasks.get(row.node_id)) for row in nodes],
            slowest=[SlowStep(row.instance_id, row.node_id, float(row.seconds)) for row in slowest],
        )

    async def throughput(
        self,
        principal: Principal,
        key: str,
        step: timedelta,
        since: datetime,
        until: datetime,
    ) -> list[ThroughputPoint]:
        """Instances started and completed per `step` from `since`, one point per step."""
        window = _window(since, until)
        if step <= timedelta(0):
            raise BadUserInput("interval must be longer than zero", field="interval")
        if (until - since) / step > MAX_BUCKETS:
            raise BadUserInput(
                f"interval gives more than {MAX_BUCKETS} points: choose a longer one",
                field="interval",
            )
        params = {
            "definitions": await self._definitions(principal, key, None),
            "step": step,
            **window,
        }
        async with self._snapshot.connect() as connection:
            rows = (await connection.execute(_THROUGHPUT, params)).all()
        return [ThroughputPoint(row.at, row.started, row.completed) for row in rows]


def _window(since: datetime, until: datetime) -> dict[str, Any]:
    if since.tzinfo is None or until.tzinfo is None:
        raise BadUserInput("from and to need a time zone", field="from")
    if until <= since:
        raise BadUserInput("to must be after from", field="to")
    return {"since": since, "until": until}


def _node_stats(row: Any, task: Any | None) -> NodeStats:
    duration = _percentiles(row.duration)
    assert duration is not None  # a node with passes has their durations
    return NodeStats(
        node_id=row.node_id,
        passes=row.passes,
        duration=duration,
        waiting=_percentiles(task.waiting) if task else None,
        working=_percentiles(task.working) if task else None,
        sla_breaches=task.sla_breaches if task else 0,
    )
