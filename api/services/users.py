"""Users, groups and memberships, and logging in."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.passwords import hash_password, verify_password
from api.auth.principal import ADMIN_ROLE, Principal
from api.auth.tokens import TokenIssuer
from api.db import SessionMaker, reading
from api.errors import BadUserInput, Conflict, NotFound, Unauthenticated
from api.models import Group, Membership, User


class UserService:
    def __init__(
        self, sessions: SessionMaker, tokens: TokenIssuer, *, principal_ttl: float = 0.0
    ) -> None:
        self._sessions = sessions
        self._reads = reading(sessions)
        self._tokens = tokens
        # Every request needs its caller's groups and roles; kept for a few seconds, they
        # spare each request a statement. Changes made through this service show at once;
        # changes made elsewhere (another API process, the CLI) within `principal_ttl`.
        self._principals: TTLCache[uuid.UUID, Principal] | None = (
            TTLCache(maxsize=10_000, ttl=principal_ttl) if principal_ttl > 0 else None
        )

    async def login(self, username: str, password: str) -> tuple[str, User]:
        async with self._reads() as session:
            user = (await session.exec(select(User).where(User.username == username))).first()
        # Verify against a real hash even for an unknown user, so timing does not tell
        # which usernames exist.
        ok = await verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok:
            raise Unauthenticated("invalid username or password")
        return self._tokens.issue(user.id, user.username), user

    async def by_username(self, username: str) -> User:
        async with self._reads() as session:
            user = (await session.exec(select(User).where(User.username == username))).first()
        if user is None:
            raise NotFound(f"no user '{username}'")
        return user

    async def usernames(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        wanted = list(ids)
        if not wanted:
            return {}
        async with self._reads() as session:
            rows = await session.exec(
                select(User.id, User.username).where(col(User.id).in_(wanted))
            )
            return dict(rows.all())

    async def principal(self, user_id: uuid.UUID) -> Principal:
        """The caller behind a verified token; a deleted user is no longer authenticated."""
        if self._principals is None:
            return await self._load_principal(user_id)
        found = self._principals.get(user_id)
        if found is None:
            found = self._principals[user_id] = await self._load_principal(user_id)
        return found

    async def _load_principal(self, user_id: uuid.UUID) -> Principal:
        # One statement: every request pays for it.
        groups = (
            select(sa.func.coalesce(sa.func.array_agg(col(Membership.group_key)), []))
            .where(col(Membership.user_id) == col(User.id))
            .scalar_subquery()
        )
        async with self._reads() as session:
            row = (
                await session.exec(
                    select(col(User.username), col(User.roles), groups).where(
                        col(User.id) == user_id
                    )
                )
            ).first()
        if row is None:
            raise Unauthenticated("the token's user no longer exists")
        username, roles, group_keys = row
        return Principal(
            id=user_id, username=username, groups=frozenset(group_keys), roles=frozenset(roles)
        )

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        groups: Sequence[str] = (),
        roles: Sequence[str] = (),
    ) -> User:
        if not username.strip():
            raise BadUserInput("username must not be empty", field="username")
        if len(password) < 8:
            raise BadUserInput("password must have at least 8 characters", field="password")
        _check_lengths(
            (username, "username", 150),
            (display_name, "displayName", 200),
            (email, "email", 320),
            *((key, "groups", 150) for key in groups),
        )
        groups = list(dict.fromkeys(groups))
        password_hash = await hash_password(password)
        async with self._sessions() as session, session.begin():
            # One statement decides a race between two creations of the same name.
            user: User | None = (
                (
                    await session.exec(
                        insert(User)
                        .values(
                            id=uuid.uuid4(),
                            username=username,
                            password_hash=password_hash,
                            display_name=display_name,
                            email=email,
                            roles=list(roles),
                        )
                        .on_conflict_do_nothing(index_elements=["username"])
                        .returning(User)
                    )
                )
                .scalars()
                .first()
            )
            if user is None:
                raise Conflict(f"username '{username}' is taken", field="username")
            await _ensure_groups(session, groups)
            for key in groups:
                session.add(Membership(user_id=user.id, group_key=key))
        return user

    async def create_group(self, key: str, name: str | None = None) -> Group:
        if not key.strip():
            raise BadUserInput("group key must not be empty", field="key")
        _check_lengths((key, "key", 150), (name, "name", 200))
        async with self._sessions() as session, session.begin():
            group: Group | None = (
                (
                    await session.exec(
                        insert(Group)
                        .values(key=key, name=name)
                        .on_conflict_do_nothing(index_elements=["key"])
                        .returning(Group)
                    )
                )
                .scalars()
                .first()
            )
            if group is None:
                raise Conflict(f"group '{key}' exists", field="key")
        return group

    async def set_membership(self, group_key: str, user_id: uuid.UUID, member: bool) -> Group:
        async with self._sessions() as session, session.begin():
            group = await session.get(Group, group_key)
            if group is None:
                raise NotFound(f"no group '{group_key}'")
            if await session.get(User, user_id) is None:
                raise NotFound("no such user")
            if member:
                await session.exec(
                    insert(Membership)
                    .values(user_id=user_id, group_key=group_key)
                    .on_conflict_do_nothing()
                )
            else:
                await session.exec(
                    sa.delete(Membership).where(
                        col(Membership.user_id) == user_id, col(Membership.group_key) == group_key
                    )
                )
        if self._principals is not None:
            self._principals.pop(user_id, None)
        return group

    async def ensure_admin(self, username: str, password: str) -> tuple[User, bool]:
        """The admin `flowdesk dev` relies on, made once; True when made by this call."""
        async with self._reads() as session:
            existing = (await session.exec(select(User).where(User.username == username))).first()
        if existing is not None:
            return existing, False
        return await self.create_user(
            username, password, roles=[ADMIN_ROLE], groups=["admins"]
        ), True


def _check_lengths(*values: tuple[str | None, str, int]) -> None:
    """Refuse what the columns (api/models.py) cannot hold, naming the field."""
    for value, field, limit in values:
        if value is not None and len(value) > limit:
            raise BadUserInput(f"{field} is longer than {limit} characters", field=field)


async def _ensure_groups(session: AsyncSession, keys: Iterable[str]) -> None:
    unique = list(dict.fromkeys(keys))
    if unique:
        await session.exec(
            insert(Group).values([{"key": k, "name": k} for k in unique]).on_conflict_do_nothing()
        )


# A valid argon2 hash of a random string, used only to spend the same time on unknown users.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$+eTT+rWjnaudX7CPFk/Gow$kgQdiGMeorbn8uJ/HpMTOC5KgRjWUxBmGZN+MyRs8tA"
