"""People to act as: users made with fresh names, logged in over the API."""

from __future__ import annotations

import uuid
from typing import Any

from api.services.users import UserService
from tests.client import PASSWORD, GraphQLClient


async def make_user(
    users: UserService,
    *,
    groups: list[str] | None = None,
    admin: bool = False,
    roles: list[str] | None = None,
) -> Any:
    """A user with the default role, plus `roles` (and admin when `admin`)."""
    return await users.create_user(
        f"user-{uuid.uuid4().hex[:10]}",
        PASSWORD,
        groups=groups or [],
        roles=[*(roles or []), *(["admin"] if admin else [])],
    )


async def as_user(
    client: GraphQLClient,
    users: UserService,
    *,
    groups: list[str] | None = None,
    admin: bool = False,
    roles: list[str] | None = None,
) -> GraphQLClient:
    """A fresh user (as `make_user` makes one), logged in through `client`."""
    user = await make_user(users, groups=groups, admin=admin, roles=roles)
    return await client.login(user.username)
