"""Archived instances

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INSTANCE_STATUSES = ("RUNNING", "SUSPENDED", "COMPLETED", "CANCELLED", "TERMINATED", "INCIDENT")


def upgrade() -> None:
    op.create_table(
        "archived_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("definition_id", sa.Uuid(), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                *INSTANCE_STATUSES,
                name="instance_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_by", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_archived_instances_definition_id_process_definitions"),
        ),
        sa.ForeignKeyConstraint(
            ["started_by"], ["users.id"], name=op.f("fk_archived_instances_started_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archived_instances")),
    )
    op.create_index(
        op.f("ix_archived_instances_business_key"), "archived_instances", ["business_key"]
    )
    op.create_index(
        op.f("ix_archived_instances_definition_id"), "archived_instances", ["definition_id"]
    )
    op.create_index("ix_archived_instances_ended_at_id", "archived_instances", ["ended_at", "id"])


def downgrade() -> None:
    op.drop_table("archived_instances")
