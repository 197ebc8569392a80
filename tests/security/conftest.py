"""Helpers for attacking the running app: people with chosen roles and groups, each with a
logged-in client, and snapshots of the rows an attack must leave as they were."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from api.db import SessionMaker, engine_of
from api.models import User
from api.services.users import UserService
from schema.ids import encode_id
from tests.client import PASSWORD, GraphQLClient, GraphQLError


@dataclass
class Person:
    row: User
    client: GraphQLClient

    @property
    def id(self) -> str:
        """The user's global id."""
        return encode_id("User", self.row.id)

    @property
    def username(self) -> str:
        return self.row.username


@pytest.fixture
def people(client: GraphQLClient, users: UserService) -> Any:
    """`await people(groups=[...], roles=[...])`: a new user, logged in."""

    async def make(groups: Sequence[str] = (), roles: Sequence[str] = ()) -> Person:
        row = await users.create_user(
            f"sec-{uuid.uuid4().hex[:10]}",
            PASSWORD,
            email=f"{uuid.uuid4().hex[:6]}@example.com",
            groups=list(groups),
            roles=list(roles),
        )
        return Person(row, await client.login(row.username))

    return make


async def refused(
    client: GraphQLClient, query: str, variables: dict[str, Any] | None = None
) -> str:
    """The one error code of an operation that must fail."""
    with pytest.raises(GraphQLError) as caught:
        await client.execute(query, variables)
    [code] = caught.value.codes
    return code


async def snapshot(sessions: SessionMaker, keys: Sequence[str] = ()) -> dict[str, Any]:
    """Row counts of the administration tables, and of everything under the definition
    `keys` (versions, owners, instances, their tasks, comments and history, as ordered)."""
    keys = list(keys)
    statements = {
        "users": "SELECT count(*) FROM users",
        "active_users": "SELECT count(*) FROM users WHERE active",
        "roles": "SELECT count(*) FROM roles",
        "user_roles": "SELECT coalesce(sum(cardinality(roles)), 0) FROM users",
        "memberships": "SELECT count(*) FROM memberships",
        "audit_log": "SELECT count(*) FROM audit_log",
        "definitions": "SELECT count(*) FROM process_definitions WHERE key = ANY(:keys)",
        "owners": "SELECT count(*) FROM definition_owners WHERE key = ANY(:keys)",
        "instances": _UNDER + "SELECT count(*) FROM i",
        "variables": _UNDER
        + "SELECT coalesce(jsonb_agg(variables ORDER BY id), '[]') FROM process_instances"
        " WHERE id IN (SELECT id FROM i)",
        "tasks": _UNDER + "SELECT count(*) FROM tasks WHERE instance_id IN (SELECT id FROM i)",
        "task_versions": _UNDER
        + "SELECT coalesce(sum(version), 0) FROM tasks WHERE instance_id IN (SELECT id FROM i)",
        "comments": _UNDER + "SELECT count(*) FROM task_comments c JOIN tasks t ON t.id = c.task_id"
        " WHERE t.instance_id IN (SELECT id FROM i)",
        "history": _UNDER
        + "SELECT coalesce(jsonb_agg(jsonb_build_array(instance_id, seq, type) ORDER BY instance_id, seq),"
        " '[]') FROM history_events WHERE instance_id IN (SELECT id FROM i)",
    }
    async with engine_of(sessions).connect() as connection:
        return {
            name: (await connection.execute(sa.text(sql), {"keys": keys})).scalar_one()
            for name, sql in statements.items()
        }


_UNDER = (
    "WITH i AS (SELECT pi.id FROM process_instances pi JOIN process_definitions d"
    " ON d.id = pi.definition_id WHERE d.key = ANY(:keys)) "
)
