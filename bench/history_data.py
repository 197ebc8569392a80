"""Finished instances of two definitions and their history, written by SQL alone: what the
reports read. Instances start six minutes apart from 2026-01-01; each has one user task
(`work`, due after 30 minutes, done in 0-99 minutes) and the history of passing through it."""

from __future__ import annotations

from datetime import UTC, datetime

REPORTED = "report"  # the definition reports are asked about; "other" holds the other half
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

_INSTANCE = "('00000000-0000-0000-0000-' || lpad(g::text, 12, '0'))::uuid"
_STARTED = "timestamptz '2026-01-01 00:00Z' + g * interval '6 minutes'"
_DONE = f"{_STARTED} + (g % 100) * interval '1 minute'"


def history_fill(instances: int) -> list[str]:
    """The statements that write `instances` instances (half of each definition), as many
    tasks and twice as many history rows; then ANALYZE."""
    return [
        "INSERT INTO process_definitions (id, key, version, name, spec, checksum, suspended,"
        " deployed_at)"
        f" VALUES ('00000000-0000-0000-0001-000000000000', '{REPORTED}', 1, 'n', '{{}}', 'x',"
        " false, now()),"
        " ('00000000-0000-0000-0002-000000000000', 'other', 1, 'n', '{}', 'x', false, now())",
        "INSERT INTO process_instances (id, definition_id, status, variables, step, last_seq,"
        " started_at, ended_at)"
        f" SELECT {_INSTANCE}, ('00000000-0000-0000-000' || (1 + g % 2) || '-000000000000')::uuid,"
        f" 'COMPLETED', '{{}}', 3, 2, {_STARTED}, {_DONE}"
        f" FROM generate_series(1, {instances}) g",
        "INSERT INTO tasks (id, instance_id, node_id, name, status, priority, version,"
        " created_at, completed_at, due_at, variables)"
        f" SELECT gen_random_uuid(), {_INSTANCE}, 'work', 'Work', 'COMPLETED', 50, 1,"
        f" {_STARTED}, {_DONE}, {_STARTED} + interval '30 minutes', '{{}}'"
        f" FROM generate_series(1, {instances}) g",
        "INSERT INTO history_events (instance_id, seq, type, node_id, at)"
        f" SELECT {_INSTANCE}, s, CASE s WHEN 1 THEN 'NODE_ENTERED' ELSE 'NODE_LEFT' END,"
        f" 'work', CASE s WHEN 1 THEN {_STARTED} ELSE {_DONE} END"
        f" FROM generate_series(1, {instances}) g, generate_series(1, 2) s",
        "ANALYZE",
    ]
