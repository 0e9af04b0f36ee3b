"""notices date the fraudulent usage

Revision ID: m0002
Revises: m0001
Create Date: 2026-11-25 02:05:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0002"
down_revision: str | None = "m0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("first_fraudulent_usage_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "first_fraudulent_usage_on")
