"""The raw side of the inbox comparison: what a team would hand-write instead of GraphQL.

One asyncpg query returns the caller's inbox page with every nested field the GraphQL query
asks for (instance, definition, assignee, candidate groups, comment count); a plain Starlette
route checks the same bearer token and answers with orjson. The JSON has the GraphQL answer's
shape and ids, so the two can be compared field by field.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth.tokens import TokenIssuer
from api.cursors import encode_cursor
from api.errors import FlowdeskError
from api.heap import freeze_startup_objects
from api.settings import Settings

# The caller's groups in a sub-select (an InitPlan), so each branch of the filter is a
# plain lookup in its partial index, as in InboxService.
INBOX_SQL = """
WITH page AS (
    SELECT t.id, t.name, t.status, t.priority, t.due_at, t.created_at, t.candidate_groups,
           t.assignee_id, t.instance_id
    FROM tasks t
    WHERE t.status IN ('CREATED', 'CLAIMED')
      AND (t.assignee_id = $1
           OR (t.assignee_id IS NULL
               AND (t.candidate_users @> ARRAY[$1::uuid]
                    OR t.candidate_groups && (SELECT coalesce(array_agg(m.group_key), '{}')::varchar[]
                                              FROM memberships m WHERE m.user_id = $1))))
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT $2
)
SELECT p.id, p.name, p.status, p.priority, p.due_at, p.created_at, p.candidate_groups,
       (SELECT count(*) FROM task_comments c WHERE c.task_id = p.id) AS comment_count,
       a.id AS assignee_id, a.username AS assignee_username,
       a.display_name AS assignee_display_name,
       i.id AS instance_id, i.business_key, i.status AS instance_status, i.started_at,
       d.id AS definition_id, d.key AS definition_key, d.name AS definition_name,
       d.version AS definition_version
FROM page p
JOIN process_instances i ON i.id = p.instance_id
JOIN process_definitions d ON d.id = i.definition_id
LEFT JOIN users a ON a.id = p.assignee_id
ORDER BY p.created_at DESC, p.id DESC
"""

_SIGNATURE = "CREATED:desc"


def global_id(type_name: str, value: uuid.UUID) -> str:
    """Relay's global id, as Strawberry encodes it."""
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def page_json(rows: list[asyncpg.Record], first: int) -> dict[str, Any]:
    edges = []
    for r in rows[:first]:
        assignee = None
        if r["assignee_id"] is not None:
            assignee = {
                "id": global_id("User", r["assignee_id"]),
                "username": r["assignee_username"],
                "displayName": r["assignee_display_name"],
            }
        cursor = encode_cursor(_SIGNATURE, r["created_at"].isoformat(), str(r["id"]))
        edges.append(
            {
                "cursor": cursor,
                "node": {
                    "id": global_id("Task", r["id"]),
                    "name": r["name"],
                    "status": r["status"],
                    "priority": r["priority"],
                    "dueAt": _iso(r["due_at"]),
                    "createdAt": _iso(r["created_at"]),
                    "candidateGroups": r["candidate_groups"],
                    "commentCount": r["comment_count"],
                    "assignee": assignee,
                    "instance": {
                        "id": global_id("ProcessInstance", r["instance_id"]),
                        "businessKey": r["business_key"],
                        "status": r["instance_status"],
                        "startedAt": _iso(r["started_at"]),
                        "definition": {
                            "id": global_id("ProcessDefinition", r["definition_id"]),
                            "key": r["definition_key"],
                            "name": r["definition_name"],
                            "version": r["definition_version"],
                        },
                    },
                },
            }
        )
    return {
        "tasks": {
            "edges": edges,
            "pageInfo": {
                "hasNextPage": len(rows) > first,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }
    }


def create_raw_app(settings: Settings) -> Starlette:
    tokens = TokenIssuer(settings)
    state: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from bench.stack import asyncpg_dsn

        state["pool"] = await asyncpg.create_pool(
            asyncpg_dsn(settings.database_url), min_size=1, max_size=settings.database_pool_size
        )
        freeze_startup_objects()  # as the Flowdesk app does
        try:
            yield
        finally:
            await state["pool"].close()

    async def inbox(request: Request) -> Response:
        try:
            claims = tokens.verify_header(request.headers.get("authorization"))
        except FlowdeskError:
            return Response(b'{"error":"UNAUTHENTICATED"}', status_code=401)
        first = min(int(request.query_params.get("first", "20")), 100)
        rows = await state["pool"].fetch(INBOX_SQL, claims.user_id, first + 1)
        return Response(orjson.dumps(page_json(rows, first)), media_type="application/json")

    return Starlette(routes=[Route("/inbox", inbox)], lifespan=lifespan)
