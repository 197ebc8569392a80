"""Who is calling: the user behind a verified token, with the groups and roles that RBAC reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ADMIN_ROLE = "admin"


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    username: str
    groups: frozenset[str]
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles
