"""GraphQL types of people: users, groups, and the login answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api import models
from api.services.users import sees_members, sees_private
from schema.common import JSON, Ctx
from schema.loaded import from_loader


@strawberry.type(description="A group of users; tasks name groups as candidates.")
class Group:
    key: str = strawberry.field(description="Stable identifier, used in definitions.")
    name: str | None = strawberry.field(description="Display name.")

    @strawberry.field(
        description="Users in the group, by username; empty unless the caller administers users."
    )
    async def members(self, info: Ctx) -> list[User]:
        # No caller only in the answer to `login`, which shows no members.
        principal = info.context.principal
        if principal is None or not sees_members(principal):
            return []
        rows = await info.context.loaders.members_of_group.load(self.key)
        return [User.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: models.Group) -> Group:
        return cls(key=row.key, name=row.name)


@strawberry.type(description="A person who starts processes and works tasks.")
class User(relay.Node):
    id: relay.NodeID[str]
    pk: strawberry.Private[uuid.UUID]
    username: str = strawberry.field(description="Login name; definitions name people by it.")
    display_name: str | None = strawberry.field(description="Name to show.")
    private_email: strawberry.Private[str | None]
    private_roles: strawberry.Private[list[str]]
    active: bool = strawberry.field(
        description="False once deactivated: the user can no longer log in."
    )
    created_at: datetime = strawberry.field(description="When the account was made.")

    @strawberry.field(
        description="E-mail address; null unless the caller is this user or administers users."
    )
    def email(self, info: Ctx) -> str | None:
        return self.private_email if self._private(info) else None

    @strawberry.field(
        description="Roles held; empty unless the caller is this user or administers users."
    )
    def roles(self, info: Ctx) -> list[str]:
        return sorted(self.private_roles) if self._private(info) else []

    @strawberry.field(
        description="Groups the user belongs to; empty unless the caller is this user or "
        "administers users."
    )
    async def groups(self, info: Ctx) -> list[Group]:
        if not self._private(info):
            return []
        rows = await info.context.loaders.groups_of_user.load(self.pk)
        return [Group.from_row(r) for r in rows]

    # Set for the answer to `login`, whose caller has no token yet: it is their own account.
    own: strawberry.Private[bool] = False

    def _private(self, info: Ctx) -> bool:
        return self.own or sees_private(info.context.require_user(), self.pk)

    @classmethod
    def from_row(cls, row: models.User, *, own: bool = False) -> User:
        return cls(
            own=own,
            id=str(row.id),
            pk=row.id,
            username=row.username,
            display_name=row.display_name,
            private_email=row.email,
            private_roles=list(row.roles),
            active=row.active,
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Ctx, node_ids: Iterable[str], required: bool = False
    ) -> list[User | None]:
        info.context.require_user()
        rows = await info.context.loaders.user.load_many([uuid.UUID(i) for i in node_ids])
        return [cls.from_row(r) if r else None for r in rows]


def load_user(info: Ctx, user_id: uuid.UUID | None) -> User | Awaitable[User | None] | None:
    """The user with this id, at once when a page loaded it already (schema/loaded.py)."""
    if user_id is None:
        return None
    return from_loader(info.context.loaders.user, user_id, _user_or_none)


def _user_or_none(row: models.User | None) -> User | None:
    return User.from_row(row) if row else None


@strawberry.type(description="The answer to `login`.")
class AuthPayload:
    token: str = strawberry.field(
        description="Access token for the `Authorization` header; short-lived"
        " (FLOWDESK_JWT_TTL_SECONDS)."
    )
    refresh_token: str = strawberry.field(
        description="Spend it once with `refreshToken` for a new pair before the access"
        " token expires; spending it twice ends the session."
    )
    user: User = strawberry.field(description="Who logged in.")


@strawberry.type(description="A named set of permissions that users are granted.")
class Role:
    name: str = strawberry.field(description="How grantRole names it.")
    description: str | None = strawberry.field(description="What it is for.")
    permissions: list[str] = strawberry.field(description="What its holders may do.")
    builtin: bool = strawberry.field(description="Defined by Flowdesk itself; cannot change.")


@strawberry.type(description="One change to people, groups, roles or definition owners.")
class AuditEntry:
    actor_id: strawberry.Private[uuid.UUID | None]
    at: datetime = strawberry.field(description="When.")
    action: str = strawberry.field(description="The operation, e.g. updateUser, grantRole.")
    target_type: str = strawberry.field(description="User, Group, Role or Definition.")
    target: str = strawberry.field(
        description="The user's global id, the group's key, the role's name or the "
        "definition's key."
    )
    changes: JSON = strawberry.field(
        description="Each changed field as [old, new]; a password shows as ['*', '*']."
    )

    @strawberry.field(
        description="Who made the change; null for the command line.", graphql_type=User | None
    )
    def actor(self, info: Ctx) -> User | Awaitable[User | None] | None:
        return load_user(info, self.actor_id)

    @classmethod
    def from_row(cls, row: models.AuditEntry) -> AuditEntry:
        target = row.target
        if row.target_type == "User":
            target = str(relay.GlobalID("User", row.target))
        return cls(
            actor_id=row.actor_id,
            at=row.at,
            action=row.action,
            target_type=row.target_type,
            target=target,
            changes=JSON(row.changes),
        )


@strawberry.type(description="An audit log entry and its cursor.")
class AuditEntryEdge:
    node: AuditEntry = strawberry.field(description="The entry.")
    cursor: str = strawberry.field(description="Pass as `after` for the entries before it.")


@strawberry.type(description="A page of the audit log, newest first.")
class AuditEntryConnection:
    edges: list[AuditEntryEdge] = strawberry.field(description="The entries.")
    page_info: relay.PageInfo = strawberry.field(description="Where the page stands.")
