"""Users, groups, memberships and roles, logging in, and the caller behind a token.

Every change is an administrator's (`user:admin`), except changing one's own password,
and is written to the audit log in the same transaction. Where `actor` may be None, None
is the operator at the command line (`flowdesk user add`, `flowdesk dev`), who needs no
permission; every GraphQL operation passes its caller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.caller import PrincipalChanges
from api.auth.passwords import hash_password, verify_password
from api.auth.permissions import (
    ADMIN_ROLE,
    BUILTIN_ROLES,
    DEFAULT_ROLE,
    Permission,
    parse_permissions,
    permissions_of,
)
from api.auth.principal import Principal
from api.auth.throttle import LoginThrottle
from api.auth.tokens import TokenIssuer
from api.cursors import Keyset, text
from api.db import SessionMaker, reading
from api.errors import BadUserInput, Conflict, NotFound, Unauthenticated
from api.models import Group, Membership, Role, User
from api.services.audit import PASSWORD_CHANGED, diff, record

# Accounts page by username.
_BY_USERNAME = Keyset((text,))

MIN_PASSWORD = 8
_ROLE_NAME = 64

# The permissions the caller's custom roles grant, in the principal's one statement.
_CUSTOM_PERMISSIONS: sa.ColumnClause[Any] = sa.literal_column(
    "(SELECT coalesce(array_agg(DISTINCT p), '{}') FROM roles, unnest(roles.permissions) AS p"
    " WHERE roles.name = ANY(users.roles))",
    type_=pg.ARRAY(sa.String(64)),
)


class UserService:
    def __init__(
        self,
        sessions: SessionMaker,
        tokens: TokenIssuer,
        *,
        principal_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        throttle: LoginThrottle | None = None,
        changes: PrincipalChanges | None = None,
    ) -> None:
        self._sessions = sessions
        self._changes = changes
        self._throttle = throttle
        self._reads = reading(sessions)
        self._tokens = tokens
        # Every request needs its caller's groups and roles; kept for a few seconds, they
        # spare each request a statement. Changes made through this service show at once;
        # changes made elsewhere (another API process, the CLI) within `principal_ttl`
        # seconds of `clock` (which tests set, to expire entries without waiting).
        self._principals: TTLCache[uuid.UUID, Principal] | None = (
            TTLCache(maxsize=10_000, ttl=principal_ttl, timer=clock) if principal_ttl > 0 else None
        )

    async def login(
        self, username: str, password: str, *, client: str | None = None
    ) -> tuple[str, User]:
        """An access token for the right password (see `checked_password`)."""
        user = await self.checked_password(username, password, client=client)
        return self._tokens.issue(user.id, user.username), user

    async def checked_password(
        self, username: str, password: str, *, client: str | None = None
    ) -> User:
        """The active user of the right password; failures are throttled per username
        and per `client` address (api/auth/throttle.py) when the service has a throttle."""
        throttle = self._throttle
        attempt = await throttle.admit(username, client) if throttle else None
        async with self._reads() as session:
            user = (await session.exec(select(User).where(User.username == username))).first()
        # Verify against a real hash even for an unknown user, so timing does not tell
        # which usernames exist.
        ok = await verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok:
            if throttle and attempt:
                await throttle.failed(attempt)
            raise Unauthenticated("invalid username or password")
        if not user.active:
            # Said only to whoever knows the password.
            raise Unauthenticated("this account is deactivated")
        if throttle and attempt:
            await throttle.succeeded(attempt)
        return user

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
        """The caller behind a verified token; a deleted or deactivated user is no longer
        authenticated."""
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
                    select(col(User.username), col(User.roles), groups, _CUSTOM_PERMISSIONS).where(
                        col(User.id) == user_id, col(User.active)
                    )
                )
            ).first()
        if row is None:
            raise Unauthenticated("the token's user no longer exists or is deactivated")
        username, roles, group_keys, custom = row
        return Principal(
            id=user_id,
            username=username,
            groups=frozenset(group_keys),
            roles=frozenset(roles),
            permissions=permissions_of(roles, custom),
        )

    def _changed(self, user_id: uuid.UUID) -> None:
        """After the commit of a change to the user's groups, roles or state: drop the
        cached principal and re-check the user's open sockets in this process."""
        if self._principals is not None:
            self._principals.pop(user_id, None)
        if self._changes is not None:
            self._changes.changed(user_id)

    # People

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        actor: Principal | None = None,
        display_name: str | None = None,
        email: str | None = None,
        groups: Sequence[str] = (),
        roles: Sequence[str] = (),
    ) -> User:
        """A new account with the default role plus `roles`."""
        if actor is not None:
            actor.require(Permission.USER_ADMIN)
        if not username.strip():
            raise BadUserInput("username must not be empty", field="username")
        _check_password(password, "password")
        _check_lengths(
            (username, "username", 150),
            (display_name, "displayName", 200),
            (email, "email", 320),
            *((key, "groups", 150) for key in groups),
        )
        groups = list(dict.fromkeys(groups))
        roles = list(dict.fromkeys([DEFAULT_ROLE, *roles]))
        password_hash = await hash_password(password)
        async with self._sessions() as session, session.begin():
            await _existing_roles(session, roles)
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
                            roles=roles,
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
            record(
                session,
                _id_of(actor),
                "createUser",
                "User",
                str(user.id),
                {
                    "username": [None, username],
                    "displayName": [None, display_name],
                    "email": [None, email],
                    "roles": [None, roles],
                    "groups": [None, groups],
                },
            )
        return user

    async def page(
        self, actor: Principal, *, after: str | None, limit: int
    ) -> list[tuple[User, str]]:
        """Every account by username, with their cursors; administrators only."""
        actor.require(Permission.USER_ADMIN)
        position = _BY_USERNAME.position(after)
        query = select(User)
        if position is not None:
            query = query.where(col(User.username) > position[0])
        async with self._reads() as session:
            rows = (await session.exec(query.order_by(col(User.username)).limit(limit))).all()
        return _BY_USERNAME.paged(rows, lambda r: (r.username,))

    async def update_user(
        self, actor: Principal, user_id: uuid.UUID, changes: dict[str, str | None]
    ) -> User:
        """Change the display name or e-mail address (the keys of `changes` given)."""
        actor.require(Permission.USER_ADMIN)
        _check_lengths(
            (changes.get("display_name"), "displayName", 200), (changes.get("email"), "email", 320)
        )
        async with self._sessions() as session, session.begin():
            user = await _user_for_update(session, user_id)
            before = {"displayName": user.display_name, "email": user.email}
            for field, value in changes.items():
                setattr(user, field, value)
            after = {"displayName": user.display_name, "email": user.email}
            record(session, actor.id, "updateUser", "User", str(user.id), diff(before, after))
        return user

    async def deactivate_user(self, actor: Principal, user_id: uuid.UUID) -> User:
        """The user can no longer log in, and every token of theirs is refused from now
        on (by every API process once its principal cache expires)."""
        actor.require(Permission.USER_ADMIN)
        if user_id == actor.id:
            raise BadUserInput("you cannot deactivate yourself", field="id")
        async with self._sessions() as session, session.begin():
            user = await _user_for_update(session, user_id)
            if user.active:
                user.active = False
                record(
                    session,
                    actor.id,
                    "deactivateUser",
                    "User",
                    str(user.id),
                    {"active": [True, False]},
                )
        self._changed(user_id)
        return user

    async def change_password(self, principal: Principal, current: str, new: str) -> User:
        """The caller's own password, given the current one."""
        _check_password(new, "newPassword")
        async with self._reads() as session:
            user = await session.get(User, principal.id)
        assert user is not None, "a principal's user exists"
        if not await verify_password(user.password_hash, current):
            raise BadUserInput("the current password is wrong", field="currentPassword")
        password_hash = await hash_password(new)
        async with self._sessions() as session, session.begin():
            user = await _user_for_update(session, principal.id)
            user.password_hash = password_hash
            record(
                session,
                principal.id,
                "changePassword",
                "User",
                str(user.id),
                {"password": PASSWORD_CHANGED},
            )
        return user

    # Groups

    async def create_group(
        self, key: str, name: str | None = None, *, actor: Principal | None = None
    ) -> Group:
        if actor is not None:
            actor.require(Permission.USER_ADMIN)
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
            record(session, _id_of(actor), "createGroup", "Group", key, {"name": [None, name]})
        return group

    async def set_membership(
        self, group_key: str, user_id: uuid.UUID, member: bool, *, actor: Principal | None = None
    ) -> Group:
        if actor is not None:
            actor.require(Permission.USER_ADMIN)
        async with self._sessions() as session, session.begin():
            group = await session.get(Group, group_key)
            if group is None:
                raise NotFound(f"no group '{group_key}'")
            if await session.get(User, user_id) is None:
                raise NotFound("no such user")
            if member:
                changed = await session.exec(
                    insert(Membership)
                    .values(user_id=user_id, group_key=group_key)
                    .on_conflict_do_nothing()
                    .returning(col(Membership.user_id))
                )
            else:
                changed = await session.exec(
                    sa.delete(Membership)
                    .where(
                        col(Membership.user_id) == user_id, col(Membership.group_key) == group_key
                    )
                    .returning(col(Membership.user_id))
                )
            if changed.first() is not None:
                record(
                    session,
                    _id_of(actor),
                    "addGroupMember" if member else "removeGroupMember",
                    "User",
                    str(user_id),
                    {"groups": [None, group_key] if member else [group_key, None]},
                )
        self._changed(user_id)
        return group

    # Roles

    async def roles(self, actor: Principal) -> list[tuple[str, str | None, list[str], bool]]:
        """Every role: (name, description, permissions, built in), built-in ones first."""
        actor.require(Permission.USER_ADMIN)
        async with self._reads() as session:
            custom = (await session.exec(select(Role).order_by(col(Role.name)))).all()
        builtin = [
            (name, None, sorted(p.value for p in permissions), True)
            for name, permissions in BUILTIN_ROLES.items()
        ]
        return builtin + [(r.name, r.description, sorted(r.permissions), False) for r in custom]

    async def create_role(
        self, actor: Principal, name: str, permissions: Iterable[str], description: str | None
    ) -> Role:
        actor.require(Permission.USER_ADMIN)
        if not name.strip():
            raise BadUserInput("a role name must not be empty", field="name")
        _check_lengths((name, "name", _ROLE_NAME), (description, "description", 500))
        if name in BUILTIN_ROLES:
            raise Conflict(f"'{name}' is a built-in role", field="name")
        granted = [p.value for p in parse_permissions(permissions)]
        async with self._sessions() as session, session.begin():
            role: Role | None = (
                (
                    await session.exec(
                        insert(Role)
                        .values(name=name, description=description, permissions=granted)
                        .on_conflict_do_nothing(index_elements=["name"])
                        .returning(Role)
                    )
                )
                .scalars()
                .first()
            )
            if role is None:
                raise Conflict(f"role '{name}' exists", field="name")
            record(session, actor.id, "createRole", "Role", name, {"permissions": [None, granted]})
        return role

    async def set_role(
        self, actor: Principal, user_id: uuid.UUID, role: str, granted: bool
    ) -> User:
        """Grant or revoke one role; granting one held, or revoking one not held, is a no-op."""
        actor.require(Permission.USER_ADMIN)
        if not granted and role == ADMIN_ROLE and user_id == actor.id:
            raise BadUserInput("you cannot revoke your own admin role", field="role")
        async with self._sessions() as session, session.begin():
            if granted:
                await _existing_roles(session, [role])
            user = await _user_for_update(session, user_id)
            before = list(user.roles)
            after = [*before, role] if granted and role not in before else before
            if not granted:
                after = [r for r in before if r != role]
            if after != before:
                user.roles = after
                record(
                    session,
                    actor.id,
                    "grantRole" if granted else "revokeRole",
                    "User",
                    str(user.id),
                    {"roles": [before, after]},
                )
        self._changed(user_id)
        return user

    async def ensure_admin(self, username: str, password: str) -> tuple[User, bool]:
        """The admin `flowdesk dev` relies on, made once; True when made by this call."""
        async with self._reads() as session:
            existing = (await session.exec(select(User).where(User.username == username))).first()
        if existing is not None:
            return existing, False
        return await self.create_user(
            username, password, roles=[ADMIN_ROLE], groups=["admins"]
        ), True


def _id_of(actor: Principal | None) -> uuid.UUID | None:
    return actor.id if actor is not None else None


def _check_password(password: str, field: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadUserInput(f"{field} must have at least {MIN_PASSWORD} characters", field=field)


def _check_lengths(*values: tuple[str | None, str, int]) -> None:
    """Refuse what the columns (api/models.py) cannot hold, naming the field."""
    for value, field, limit in values:
        if value is not None and len(value) > limit:
            raise BadUserInput(f"{field} is longer than {limit} characters", field=field)


async def _user_for_update(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("no such user", field="id")
    return user


async def _existing_roles(session: AsyncSession, roles: Iterable[str]) -> None:
    wanted = {r for r in roles if r not in BUILTIN_ROLES}
    if not wanted:
        return
    found = set((await session.exec(select(Role.name).where(col(Role.name).in_(wanted)))).all())
    if missing := sorted(wanted - found):
        raise NotFound(f"no role {', '.join(repr(m) for m in missing)}", field="role")


async def _ensure_groups(session: AsyncSession, keys: Iterable[str]) -> None:
    unique = list(dict.fromkeys(keys))
    if unique:
        await session.exec(
            insert(Group).values([{"key": k, "name": k} for k in unique]).on_conflict_do_nothing()
        )


# A valid argon2 hash of a random string, used only to spend the same time on unknown users.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$+eTT+rWjnaudX7CPFk/Gow$kgQdiGMeorbn8uJ/HpMTOC5KgRjWUxBmGZN+MyRs8tA"


def sees_private(principal: Principal, user_id: uuid.UUID) -> bool:
    """Whether the caller may read a user's e-mail address, groups and roles: the user
    themselves and administrators. Anyone signed in sees usernames and display names
    (tasks name their people)."""
    return principal.id == user_id or principal.can(Permission.USER_ADMIN)


def sees_members(principal: Principal) -> bool:
    """Who belongs to a group is for administrators."""
    return principal.can(Permission.USER_ADMIN)
