"""The audit log of administration: every change to people, groups and roles, written in
the transaction of the change, readable by administrators."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth.permissions import Permission
from api.auth.principal import Principal
from api.cursors import Keyset, whole
from api.db import SessionMaker, reading
from api.models import AuditEntry

# Newest entry first, by id.
_BY_ID = Keyset((whole,))

# What a password change records instead of the value: neither the old nor the new one.
PASSWORD_CHANGED = ["*", "*"]


def record(
    session: AsyncSession,
    actor: uuid.UUID | None,
    action: str,
    target_type: str,
    target: str,
    changes: dict[str, Any],
) -> None:
    """Add an entry to the caller's transaction; `changes` maps a field to [old, new]."""
    session.add(
        AuditEntry(
            actor_id=actor, action=action, target_type=target_type, target=target, changes=changes
        )
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """[old, new] of each field whose value changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


class AuditLog:
    def __init__(self, sessions: SessionMaker) -> None:
        self._reads = reading(sessions)

    async def page(
        self, principal: Principal, *, target: str | None, after: str | None, limit: int
    ) -> list[tuple[AuditEntry, str]]:
        """Newest first, keyset-paginated on the entry id, with their cursors;
        administrators only."""
        principal.require(Permission.USER_ADMIN)
        position = _BY_ID.position(after)
        query = select(AuditEntry)
        if target is not None:
            query = query.where(col(AuditEntry.target) == target)
        if position is not None:
            query = query.where(col(AuditEntry.id) < position[0])
        query = query.order_by(col(AuditEntry.id).desc()).limit(limit)
        async with self._reads() as session:
            rows = (await session.exec(query)).all()
        return _BY_ID.paged(rows, lambda r: (r.id,))
