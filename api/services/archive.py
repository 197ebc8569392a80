"""Archiving finished instances: out of the live tables, into one document per instance.

An archived instance is one row of `archived_instances`: its summary in columns (what
`archivedInstances` lists and filters on) and, in `document`, every row it had in the live
tables (the instance, its tasks, their comments, its history) exactly as they were, so
that restoring puts the same rows back, ids, sequence numbers and log positions included.
A document holds whole rows (`to_jsonb`), so a column added to a live table later is kept
without touching this module.

Archiving goes in batches, one short transaction each, and takes whole trees: a finished
top-level instance with every instance its call activities started. Rows another
transaction holds are skipped (SKIP LOCKED) and taken by a later run. Restored history
rows keep their old log positions: they are behind every subscriber's cursor, so no live
subscriber hears them again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col, select

from api.auth.principal import Principal
from api.cursors import Keyset, moment, newest_first, row_id
from api.db import SessionMaker, engine_of, reading
from api.errors import BadUserInput
from api.models import ArchivedInstance, ProcessDefinition

# Pages go most recently ended first by (ended_at, id).
_BY_END = Keyset((moment, row_id))

# Instance trees per transaction: each batch locks only its own finished rows, briefly;
# smaller batches shorten that, larger ones save round trips.
BATCH = 500

# The finished top-level instances of the batch, and every instance below them.
_TREES = """
WITH RECURSIVE roots AS (
    SELECT id FROM process_instances
    WHERE parent_id IS NULL AND ended_at < :cutoff
      AND status IN ('COMPLETED', 'CANCELLED', 'TERMINATED')
      AND (:key IS NULL OR definition_id IN (SELECT id FROM process_definitions WHERE key = :key))
    ORDER BY ended_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
),
tree AS (
    SELECT id FROM roots
    UNION ALL
    SELECT child.id FROM process_instances child JOIN tree ON child.parent_id = tree.id
)"""

_ARCHIVE = sa.text(
    _TREES
    + """,
documents AS (
    INSERT INTO archived_instances (id, definition_id, business_key, status, started_by,
                                    started_at, ended_at, archived_at, document)
    SELECT i.id, i.definition_id, i.business_key, i.status, i.started_by, i.started_at,
           i.ended_at, now(),
           jsonb_build_object(
               'instance', to_jsonb(i),
               'tasks', coalesce((SELECT jsonb_agg(to_jsonb(t)) FROM tasks t
                                  WHERE t.instance_id = i.id), '[]'),
               'comments', coalesce((SELECT jsonb_agg(to_jsonb(c)) FROM task_comments c
                                     JOIN tasks t ON t.id = c.task_id
                                     WHERE t.instance_id = i.id), '[]'),
               'history', coalesce((SELECT jsonb_agg(to_jsonb(h) ORDER BY h.seq)
                                    FROM history_events h WHERE h.instance_id = i.id), '[]')
           )
    FROM process_instances i JOIN tree ON tree.id = i.id
    RETURNING id
),
gone_history AS (DELETE FROM history_events WHERE instance_id IN (SELECT id FROM documents)),
gone_comments AS (
    DELETE FROM task_comments WHERE task_id IN
        (SELECT id FROM tasks WHERE instance_id IN (SELECT id FROM documents))
),
gone_tasks AS (DELETE FROM tasks WHERE instance_id IN (SELECT id FROM documents))
SELECT id FROM documents"""
).bindparams(
    sa.bindparam("cutoff", type_=sa.DateTime(timezone=True)),
    sa.bindparam("batch", type_=sa.Integer()),
    sa.bindparam("key", type_=sa.String()),
)

# The instances go last, in a statement of their own: the deletes above run on the
# snapshot the statement started with, so their rows must be gone before the instances'.
_DELETE_INSTANCES = sa.text("DELETE FROM process_instances WHERE id = ANY(:ids)").bindparams(
    sa.bindparam("ids", type_=pg.ARRAY(sa.Uuid))
)

# Parents and children in one statement each: foreign keys are checked at its end.
_RESTORE = [
    sa.text(
        f"INSERT INTO {table} SELECT (jsonb_populate_record(NULL::{table}, row)).*"
        f" FROM archived_instances a, {rows}"
        " WHERE a.id = ANY(:ids)"
    ).bindparams(sa.bindparam("ids", type_=pg.ARRAY(sa.Uuid)))
    for table, rows in (
        (
            "process_instances",
            "jsonb_array_elements(jsonb_build_array(a.document->'instance')) AS r(row)",
        ),
        ("tasks", "jsonb_array_elements(a.document->'tasks') AS r(row)"),
        ("task_comments", "jsonb_array_elements(a.document->'comments') AS r(row)"),
        ("history_events", "jsonb_array_elements(a.document->'history') AS r(row)"),
    )
]
_FORGET = sa.text("DELETE FROM archived_instances WHERE id = ANY(:ids) RETURNING id").bindparams(
    sa.bindparam("ids", type_=pg.ARRAY(sa.Uuid))
)


@dataclass(frozen=True)
class ArchivedSummary:
    archived: int
    batches: int


class ArchiveService:
    def __init__(self, sessions: SessionMaker) -> None:
        self._engine = engine_of(sessions)
        self._reads = reading(sessions)

    async def archive_batch(
        self, cutoff: datetime, *, definition_key: str | None = None, batch: int = BATCH
    ) -> list[uuid.UUID]:
        """Move one batch of instance trees that ended before `cutoff` (of the definition
        `definition_key` only, when given); their ids."""
        params = {"cutoff": cutoff, "batch": batch, "key": definition_key}
        async with self._engine.begin() as connection:
            moved = list((await connection.execute(_ARCHIVE, params)).scalars())
            if moved:
                await connection.execute(_DELETE_INSTANCES, {"ids": moved})
        return moved

    async def archive(
        self, cutoff: datetime, *, definition_key: str | None = None, batch: int = BATCH
    ) -> ArchivedSummary:
        """Archive every instance tree that ended before `cutoff`, batch after batch."""
        if cutoff.tzinfo is None:
            raise BadUserInput("the cutoff needs a time zone")
        archived = batches = 0
        while moved := await self.archive_batch(cutoff, definition_key=definition_key, batch=batch):
            archived += len(moved)
            batches += 1
        return ArchivedSummary(archived, batches)

    async def restore(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        """Put archived instances back into the live tables, in one transaction; the ids
        restored. Restore a whole tree: a child whose parent stays archived is refused by
        its foreign key."""
        async with self._engine.begin() as connection:
            for statement in _RESTORE:
                await connection.execute(statement, {"ids": ids})
            return list((await connection.execute(_FORGET, {"ids": ids})).scalars())

    async def page(
        self,
        principal: Principal,
        *,
        definition_key: str | None,
        after: str | None,
        limit: int,
    ) -> list[tuple[ArchivedInstance, str]]:
        """Archived instances the caller may see (admins all, others those they started),
        most recently ended first, keyset-paginated on (ended_at, id), with their cursors."""
        position = _BY_END.position(after)
        query = select(ArchivedInstance)
        if not principal.is_admin:
            query = query.where(col(ArchivedInstance.started_by) == principal.id)
        if definition_key is not None:
            query = query.join(
                ProcessDefinition, col(ProcessDefinition.id) == ArchivedInstance.definition_id
            ).where(col(ProcessDefinition.key) == definition_key)
        query = newest_first(
            query, col(ArchivedInstance.ended_at), col(ArchivedInstance.id), position, limit
        )
        async with self._reads() as session:
            rows = (await session.exec(query)).all()
        return _BY_END.paged(rows, lambda r: (r.ended_at, r.id))

    async def readable(
        self, principal: Principal, ids: list[uuid.UUID]
    ) -> list[ArchivedInstance | None]:
        """The archived instances of `ids` in that order, None where there is none the
        caller may see."""
        async with self._reads() as session:
            found = await session.exec(
                select(ArchivedInstance).where(col(ArchivedInstance.id).in_(ids))
            )
            rows = {row.id: row for row in found}
        return [
            row
            if (row := rows.get(i)) and (principal.is_admin or row.started_by == principal.id)
            else None
            for i in ids
        ]
