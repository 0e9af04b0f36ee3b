"""audit entries pending their chaining

Revision ID: e0002
Revises: e0001
Create Date: 2026-11-25 01:04:37.119511+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from partnerguard.common.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "e0002"
down_revision: str | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A pending entry is what was recorded: it is chained as it is, or not at all.
_IMMUTABLE = (
    """
    CREATE FUNCTION audit_pending_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'a pending audit entry cannot be changed';
    END $$
    """,
    """
    CREATE TRIGGER audit_pending_immutable BEFORE UPDATE ON audit_pending
        FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_immutable()
    """,
)


def upgrade() -> None:
    op.create_table(
        "audit_pending",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_pending")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_pending_id")),
    )
    op.create_index(
        op.f("ix_audit_pending_partner_id"),
        "audit_pending",
        ["partner_id", "position"],
        unique=False,
    )
    for statement in enable_tenant_rls("audit_pending"):
        op.execute(statement)
    for statement in _IMMUTABLE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_pending_immutable ON audit_pending")
    op.execute("DROP FUNCTION IF EXISTS audit_pending_immutable()")
    for statement in disable_tenant_rls("audit_pending"):
        op.execute(statement)
    op.drop_index(op.f("ix_audit_pending_partner_id"), table_name="audit_pending")
    op.drop_table("audit_pending")
