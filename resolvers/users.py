"""Resolvers of people: login, me, and the administration of users, groups and roles."""

from __future__ import annotations

import strawberry
from strawberry import relay

from api.services.sessions import TokenPair
from schema.common import Ctx, build_connection, page_size
from schema.ids import decode_id
from schema.users import (
    AuditEntry,
    AuditEntryConnection,
    AuditEntryEdge,
    AuthPayload,
    Group,
    Role,
    User,
)


async def login(info: Ctx, username: str, password: str) -> AuthPayload:
    pair = await info.context.services.login_sessions.login(
        username, password, info.context.client_address
    )
    return await _payload(info, pair)


async def refresh_token(info: Ctx, token: str) -> AuthPayload:
    return await _payload(info, await info.context.services.login_sessions.refresh(token))


async def logout(info: Ctx) -> bool:
    info.context.require_user()
    assert info.context.claims is not None, "a caller has claims"
    await info.context.services.login_sessions.logout(info.context.claims)
    return True


async def _payload(info: Ctx, pair: TokenPair) -> AuthPayload:
    user = await info.context.loaders.user.load(pair.user_id)
    assert user is not None, "a session's user exists"
    return AuthPayload(
        token=pair.access, refresh_token=pair.refresh, user=User.from_row(user, own=True)
    )


async def me(info: Ctx) -> User:
    principal = info.context.require_user()
    row = await info.context.loaders.user.load(principal.id)
    assert row is not None
    return User.from_row(row)


async def users(
    info: Ctx, first: int | None = None, after: str | None = None
) -> relay.Connection[User]:
    limit = page_size(first)
    rows = await info.context.services.users.page(
        info.context.require_user(), after=after, limit=limit + 1
    )
    return build_connection(rows, limit, User.from_row, has_previous=after is not None)


async def create_user(
    info: Ctx,
    username: str,
    password: str,
    display_name: str | None = None,
    email: str | None = None,
    groups: list[str] | None = None,
    roles: list[str] | None = None,
) -> User:
    row = await info.context.services.users.create_user(
        username,
        password,
        actor=info.context.require_user(),
        display_name=display_name,
        email=email,
        groups=groups or [],
        roles=roles or [],
    )
    return User.from_row(row)


async def update_user(
    info: Ctx,
    id: strawberry.ID,
    display_name: str | None = strawberry.UNSET,
    email: str | None = strawberry.UNSET,
) -> User:
    # Only what the client sent: an omitted argument keeps its value, null clears it.
    sent = {"display_name": display_name, "email": email}
    changes = {k: v for k, v in sent.items() if v is not strawberry.UNSET}
    row = await info.context.services.users.update_user(
        info.context.require_user(), decode_id(id, "User"), changes
    )
    return User.from_row(row)


async def deactivate_user(info: Ctx, id: strawberry.ID) -> User:
    row = await info.context.services.users.deactivate_user(
        info.context.require_user(), decode_id(id, "User")
    )
    return User.from_row(row)


async def change_password(info: Ctx, current_password: str, new_password: str) -> User:
    row = await info.context.services.users.change_password(
        info.context.require_user(), current_password, new_password
    )
    return User.from_row(row)


async def create_group(info: Ctx, key: str, name: str | None = None) -> Group:
    row = await info.context.services.users.create_group(
        key, name, actor=info.context.require_user()
    )
    return Group.from_row(row)


async def add_group_member(info: Ctx, group_key: str, user_id: strawberry.ID) -> Group:
    row = await info.context.services.users.set_membership(
        group_key, decode_id(user_id, "User"), True, actor=info.context.require_user()
    )
    return Group.from_row(row)


async def remove_group_member(info: Ctx, group_key: str, user_id: strawberry.ID) -> Group:
    row = await info.context.services.users.set_membership(
        group_key, decode_id(user_id, "User"), False, actor=info.context.require_user()
    )
    return Group.from_row(row)


async def roles(info: Ctx) -> list[Role]:
    found = await info.context.services.users.roles(info.context.require_user())
    return [Role(name=n, description=d, permissions=p, builtin=b) for n, d, p, b in found]


async def create_role(
    info: Ctx, name: str, permissions: list[str], description: str | None = None
) -> Role:
    row = await info.context.services.users.create_role(
        info.context.require_user(), name, permissions, description
    )
    return Role(
        name=row.name, description=row.description, permissions=row.permissions, builtin=False
    )


async def grant_role(info: Ctx, user_id: strawberry.ID, role: str) -> User:
    row = await info.context.services.users.set_role(
        info.context.require_user(), decode_id(user_id, "User", field="userId"), role, True
    )
    return User.from_row(row)


async def revoke_role(info: Ctx, user_id: strawberry.ID, role: str) -> User:
    row = await info.context.services.users.set_role(
        info.context.require_user(), decode_id(user_id, "User", field="userId"), role, False
    )
    return User.from_row(row)


async def audit_log(
    info: Ctx,
    user_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> AuditEntryConnection:
    limit = page_size(first)
    rows = await info.context.services.audit.page(
        info.context.require_user(),
        target=str(decode_id(user_id, "User", field="userId")) if user_id is not None else None,
        after=after,
        limit=limit + 1,
    )
    edges = [
        AuditEntryEdge(node=AuditEntry.from_row(r), cursor=cursor) for r, cursor in rows[:limit]
    ]
    return AuditEntryConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > limit,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
