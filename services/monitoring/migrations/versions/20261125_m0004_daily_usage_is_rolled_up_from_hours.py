"""daily usage per subscription and category is rolled up from the hours

Revision ID: m0004
Revises: m0003
Create Date: 2026-11-25 09:00:00.000000+00:00

``usage_daily`` held, per customer, subscription and meter category, exactly the sum of that
key's 24 ``usage_hourly`` rows of the day. Keeping it cost every ingested batch a second upsert
of about as many rows as the hourly one (a fifth of the database's work per record), and every
concurrent batch of the same day waited on its rows; its only reader was the spend series
filtered by subscription or category, which now sums the hours. The customer's own day totals
(``customer_days``) stay: billing, budgets and the detectors read them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from partnerguard.common.db.rls import enable_tenant_rls

revision: str = "m0004"
down_revision: str | None = "m0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOTAL = sa.Numeric(precision=38, scale=8)


def upgrade() -> None:
    # Nothing is lost: every row is a sum of hours that stay. Its policy goes with it.
    op.drop_table("usage_daily")


def downgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("meter_category", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("cost", _TOTAL, nullable=False),
        sa.Column("heavy_cost", _TOTAL, nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "partner_id",
            "customer_id",
            "day",
            "subscription_id",
            "meter_category",
            name=op.f("pk_usage_daily"),
        ),
    )
    op.execute(
        """
        INSERT INTO usage_daily (partner_id, customer_id, day, subscription_id, meter_category,
                                 currency, cost, heavy_cost, record_count)
        SELECT partner_id, customer_id, (hour AT TIME ZONE 'UTC')::date, subscription_id,
               meter_category, min(currency), sum(cost), sum(heavy_cost), sum(record_count)
        FROM usage_hourly
        GROUP BY 1, 2, 3, 4, 5
        """
    )
    for statement in enable_tenant_rls("usage_daily"):
        op.execute(statement)
