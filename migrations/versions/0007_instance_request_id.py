"""startProcess idempotency key: process_instances.request_id, unique per caller

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "uq_process_instances_started_by_request_id"


def upgrade() -> None:
    op.add_column(
        "process_instances", sa.Column("request_id", sa.String(length=200), nullable=True)
    )
    op.create_unique_constraint(CONSTRAINT, "process_instances", ["started_by", "request_id"])


def downgrade() -> None:
    op.drop_constraint(CONSTRAINT, "process_instances", type_="unique")
    op.drop_column("process_instances", "request_id")
