"""usage totals hold any sum of records

Revision ID: m0003
Revises: m0002
Create Date: 2026-11-25 06:00:00.000000+00:00

A total of records kept at a record's width (numeric(20, 8)) overflowed once a customer's
hour or day summed to 10^12, failing the whole batch that reached it. Totals are numeric(38, 8)
now (see ``TOTAL`` in models.py for why that is enough). Widening a numeric's precision at the
same scale rewrites no table and no index in PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "m0003"
down_revision: str | None = "m0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD = sa.Numeric(precision=20, scale=8)
_TOTAL = sa.Numeric(precision=38, scale=8)
_TOTALS = {
    "usage_hourly": ("cost", "heavy_cost"),
    "usage_daily": ("cost", "heavy_cost"),
    "customer_days": ("cost", "heavy_cost"),
    "budget_crossings": ("spent",),
}


def upgrade() -> None:
    for table, columns in _TOTALS.items():
        for column in columns:
            op.alter_column(
                table, column, type_=_TOTAL, existing_type=_RECORD, existing_nullable=False
            )


def downgrade() -> None:
    # Fails, changing nothing, while any total is 10^12 or more: narrowing would lose it.
    for table, columns in _TOTALS.items():
        for column in columns:
            op.alter_column(
                table, column, type_=_RECORD, existing_type=_TOTAL, existing_nullable=False
            )
