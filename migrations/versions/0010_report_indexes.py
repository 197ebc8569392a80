"""Indexes for reports over a definition's instances

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-04 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_process_instances_definition_started",
        "process_instances",
        ["definition_id", "started_at"],
    )
    op.create_index(
        "ix_process_instances_definition_completed",
        "process_instances",
        ["definition_id", "ended_at"],
        postgresql_where=sa.text("status = 'COMPLETED'"),
    )


def downgrade() -> None:
    op.drop_index("ix_process_instances_definition_completed", "process_instances")
    op.drop_index("ix_process_instances_definition_started", "process_instances")
