"""Resolvers of people: login, me, and the administration of users and groups."""

from __future__ import annotations

import strawberry

from api.auth.principal import Principal
from api.errors import Forbidden
from schema.common import Ctx
from schema.ids import decode_id
from schema.users import AuthPayload, Group, User


def require_admin(info: Ctx) -> Principal:
    principal = info.context.require_user()
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


async def login(info: Ctx, username: str, password: str) -> AuthPayload:
    token, user = await info.context.services.users.login(
        username, password, client=info.context.client_address
    )
    return AuthPayload(token=token, user=User.from_row(user))


async def me(info: Ctx) -> User:
    principal = info.context.require_user()
    row = await info.context.loaders.user.load(principal.id)
    assert row is not None
    return User.from_row(row)


async def create_user(
    info: Ctx,
    username: str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    groups: list[str] | None = None,
) -> User:
    require_admin(info)
    row = await info.context.services.users.create_user(
        username, password, display_name=display_name, email=email, groups=groups or []
    )
    return User.from_row(row)


async def create_group(info: Ctx, key: str, name: str | None = None) -> Group:
    require_admin(info)
    return Group.from_row(await info.context.services.users.create_group(key, name))


async def add_group_member(info: Ctx, group_key: str, user_id: strawberry.ID) -> Group:
    require_admin(info)
    row = await info.context.services.users.set_membership(
        group_key, decode_id(user_id, "User"), True
    )
    return Group.from_row(row)


async def remove_group_member(info: Ctx, group_key: str, user_id: strawberry.ID) -> Group:
    require_admin(info)
    row = await info.context.services.users.set_membership(
        group_key, decode_id(user_id, "User"), False
    )
    return Group.from_row(row)
