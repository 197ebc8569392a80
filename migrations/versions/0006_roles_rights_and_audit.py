"""Custom roles, definition owners and rights, deactivated users and the audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column(
            "permissions",
            postgresql.ARRAY(sa.String(length=64)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_roles")),
    )
    op.create_table(
        "definition_owners",
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_definition_owners_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "user_id", name=op.f("pk_definition_owners")),
    )
    op.create_index(
        op.f("ix_definition_owners_user_id"), "definition_owners", ["user_id"], unique=False
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column(
            "changes", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.add_column(
        "process_definitions",
        sa.Column(
            "rights", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column(
        "users", sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    # Accounts made before roles existed keep doing what they did: they get the role every
    # new account gets.
    op.execute("UPDATE users SET roles = array_append(roles, 'user') WHERE NOT 'user' = ANY(roles)")
    # A key deployed before owners existed belongs to whoever deployed its first version.
    op.execute(
        "INSERT INTO definition_owners (key, user_id) "
        "SELECT DISTINCT ON (key) key, deployed_by FROM process_definitions "
        "WHERE deployed_by IS NOT NULL ORDER BY key, version"
    )


def downgrade() -> None:
    op.drop_column("users", "active")
    op.drop_column("process_definitions", "rights")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_definition_owners_user_id"), table_name="definition_owners")
    op.drop_table("definition_owners")
    op.drop_table("roles")
