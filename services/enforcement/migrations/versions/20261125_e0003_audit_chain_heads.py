"""audit chain heads

Revision ID: e0003
Revises: e0002
Create Date: 2026-11-25 01:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from partnerguard.common.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "e0003"
down_revision: str | None = "e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A head only moves forward, and is never removed: cutting the log's end then shows.
_FORWARD_ONLY = (
    """
    CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'UPDATE' OR NEW.partner_id <> OLD.partner_id OR NEW.seq <= OLD.seq THEN
            RAISE EXCEPTION 'an audit chain head only moves forward';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads
        FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only()
    """,
    """
    CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_audit_heads")),
    )
    for statement in enable_tenant_rls("audit_heads"):
        op.execute(statement)
    for statement in _FORWARD_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_heads_no_truncate ON audit_heads")
    op.execute("DROP TRIGGER IF EXISTS audit_heads_forward_only ON audit_heads")
    op.execute("DROP FUNCTION IF EXISTS audit_heads_forward_only()")
    for statement in disable_tenant_rls("audit_heads"):
        op.execute(statement)
    op.drop_table("audit_heads")
