"""Permissions and the built-in roles that bundle them.

A permission says what kind of thing a caller may do at all; whether they may do it to a
given definition, instance or task is the rule of that domain's service (per-definition
rights, who is involved in a task). A role is a named set of permissions; a user holds any
number of roles and has the union of their permissions. The built-in roles are defined
here, in code, so that every API process agrees on them; custom roles live in the `roles`
table."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from api.errors import BadUserInput, Forbidden


class Permission(enum.StrEnum):
    DEFINITION_DEPLOY = "definition:deploy"
    DEFINITION_READ = "definition:read"
    INSTANCE_START = "instance:start"
    INSTANCE_READ = "instance:read"
    INSTANCE_MANAGE = "instance:manage"
    TASK_WORK = "task:work"
    TASK_ASSIGN = "task:assign"
    HISTORY_READ = "history:read"
    USER_ADMIN = "user:admin"


_P = Permission

ADMIN_ROLE = "admin"
# What every new account gets: existing accounts were given it by the migration that
# introduced roles, so they keep doing what they did.
DEFAULT_ROLE = "user"

BUILTIN_ROLES: Mapping[str, frozenset[Permission]] = {
    # Everything, and every object regardless of per-definition rights.
    ADMIN_ROLE: frozenset(Permission),
    # Models processes and watches how they run.
    "designer": frozenset(
        {_P.DEFINITION_DEPLOY, _P.DEFINITION_READ, _P.INSTANCE_READ, _P.HISTORY_READ}
    ),
    # Runs the processes: controls any instance it may see, hands tasks to people.
    "operator": frozenset(
        {
            _P.DEFINITION_READ,
            _P.INSTANCE_START,
            _P.INSTANCE_READ,
            _P.INSTANCE_MANAGE,
            _P.TASK_WORK,
            _P.TASK_ASSIGN,
            _P.HISTORY_READ,
        }
    ),
    # Everyday participant: starts processes, works tasks, deploys keys of their own.
    DEFAULT_ROLE: frozenset(
        {
            _P.DEFINITION_DEPLOY,
            _P.DEFINITION_READ,
            _P.INSTANCE_START,
            _P.INSTANCE_READ,
            _P.TASK_WORK,
            _P.HISTORY_READ,
        }
    ),
}


def permissions_of(roles: Iterable[str], custom: Iterable[str]) -> frozenset[str]:
    """The permissions of `roles`: the built-in ones' from code, plus `custom`, the
    permissions the caller's custom roles grant (read with the roles themselves)."""
    found = set(custom)
    for role in roles:
        found |= BUILTIN_ROLES.get(role, frozenset())
    return frozenset(found)


def parse_permissions(values: Iterable[str]) -> list[Permission]:
    """Permissions named by a client, refused with the unknown names."""
    names = list(dict.fromkeys(values))
    unknown = [v for v in names if v not in Permission._value2member_map_]
    if unknown:
        known = ", ".join(p.value for p in Permission)
        raise BadUserInput(
            f"unknown permission(s) {', '.join(unknown)}; known: {known}", field="permissions"
        )
    return [Permission(v) for v in names]


def denied(permission: Permission) -> Forbidden:
    return Forbidden(f"this needs the {permission.value} permission", permission=permission.value)
