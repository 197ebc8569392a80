"""Who may read, start and deploy a definition, and who sees all of its instances: one
set of rules for the services, in Python and as SQL.

A version's rights are its document's `startableBy` and `visibleTo` (kept in the
`rights` column): absent, anyone with the permission may; present, only the users and
groups it names. A key's owners (its first deployer, to begin with) and admins may
always read, start and deploy it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import col

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.models import DefinitionOwner, ProcessDefinition

STARTABLE_BY = "startableBy"
VISIBLE_TO = "visibleTo"


def rights_of(spec: dict[str, Any]) -> dict[str, Any]:
    """The rights a deployed document carries, as the `rights` column keeps them."""
    return {k: spec[k] for k in (STARTABLE_BY, VISIBLE_TO) if k in spec}


def named(principal: Principal, audience: dict[str, Any] | None) -> bool:
    if audience is None:
        return False
    return principal.named_in(audience.get("users", []), audience.get("groups", []))


def may_read(principal: Principal, row: ProcessDefinition, owner: bool) -> bool:
    if principal.is_admin or owner:
        return True
    if not principal.can(Permission.DEFINITION_READ):
        return False
    rights = row.rights
    if STARTABLE_BY not in rights and VISIBLE_TO not in rights:
        return True
    return named(principal, rights.get(STARTABLE_BY)) or named(principal, rights.get(VISIBLE_TO))


def may_start(principal: Principal, row: ProcessDefinition, owner: bool) -> bool:
    """Given that the caller may read it."""
    if principal.is_admin or owner:
        return True
    if not principal.can(Permission.INSTANCE_START):
        return False
    return STARTABLE_BY not in row.rights or named(principal, row.rights[STARTABLE_BY])


# The same rules as SQL over process_definitions, for pages and joins.


def owner_sql(principal: Principal) -> sa.ColumnElement[bool]:
    return (
        sa.select(1)
        .where(
            col(DefinitionOwner.key) == col(ProcessDefinition.key),
            col(DefinitionOwner.user_id) == principal.id,
        )
        .exists()
    )


# The JSONB column with its operators (SQLModel types it as a plain dict).
_RIGHTS: Any = col(ProcessDefinition.rights)


def _named_sql(principal: Principal, which: str) -> sa.ColumnElement[bool]:
    audience = _RIGHTS[which]
    groups = sorted(principal.groups)
    by_group: sa.ColumnElement[bool] = (
        audience["groups"].has_any(sa.cast(groups, pg.ARRAY(sa.Text))) if groups else sa.false()
    )
    return sa.or_(audience["users"].has_key(principal.username), by_group)


def readable_sql(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.is_admin:
        return sa.true()
    if not principal.can(Permission.DEFINITION_READ):
        return owner_sql(principal)
    return sa.or_(
        sa.not_(_RIGHTS.has_any(sa.cast([STARTABLE_BY, VISIBLE_TO], pg.ARRAY(sa.Text)))),
        _named_sql(principal, STARTABLE_BY),
        _named_sql(principal, VISIBLE_TO),
        owner_sql(principal),
    )


def every_instance_sql(principal: Principal) -> sa.ColumnElement[bool]:
    """Who sees every instance of a definition, whoever started it: admins, those its
    `visibleTo` names, and holders of instance:manage who may read it. Not its owners
    as such: instances hold other people's data, and an owner who should see them lists
    themselves."""
    if principal.is_admin:
        return sa.true()
    if principal.can(Permission.INSTANCE_MANAGE):
        return sa.or_(readable_sql(principal), _named_sql(principal, VISIBLE_TO))
    return _named_sql(principal, VISIBLE_TO)
