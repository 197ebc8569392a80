"""Who is calling: the user behind a verified token, with the groups, roles and permissions
that authorization reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from api.auth.permissions import ADMIN_ROLE, Permission, denied

__all__ = ["ADMIN_ROLE", "Principal"]


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    username: str
    groups: frozenset[str]
    roles: frozenset[str]
    permissions: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        """The admin role: every permission, and every object whoever's it is."""
        return ADMIN_ROLE in self.roles

    def can(self, permission: Permission) -> bool:
        return self.is_admin or permission.value in self.permissions

    def require(self, permission: Permission) -> Principal:
        """Itself when it holds `permission`; FORBIDDEN otherwise."""
        if not self.can(permission):
            raise denied(permission)
        return self

    def named_in(
        self, users: list[str] | tuple[str, ...], groups: list[str] | tuple[str, ...]
    ) -> bool:
        """Listed by username, or through one of its groups."""
        return self.username in users or not self.groups.isdisjoint(groups)
