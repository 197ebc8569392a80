"""GraphQL types of people: users, groups, and the login answer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api import models
from schema.common import Ctx
from schema.loaded import from_loader


@strawberry.type(description="A group of users; tasks name groups as candidates.")
class Group:
    key: str = strawberry.field(description="Stable identifier, used in definitions.")
    name: str | None = strawberry.field(description="Display name.")

    @strawberry.field(description="Users in the group, by username.")
    async def members(self, info: Ctx) -> list[User]:
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
    email: str | None = strawberry.field(description="E-mail address.")
    created_at: datetime = strawberry.field(description="When the account was made.")

    @strawberry.field(description="Groups the user belongs to.")
    async def groups(self, info: Ctx) -> list[Group]:
        rows = await info.context.loaders.groups_of_user.load(self.pk)
        return [Group.from_row(r) for r in rows]

    @classmethod
    def from_row(cls, row: models.User) -> User:
        return cls(
            id=str(row.id),
            pk=row.id,
            username=row.username,
            display_name=row.display_name,
            email=row.email,
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
    token: str = strawberry.field(description="Bearer token for the `Authorization` header.")
    user: User = strawberry.field(description="Who logged in.")
