"""applications, checks, verifications, policies and lists

Revision ID: o0001
Revises:
Create Date: 2026-11-24 17:44:18.149182+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from partnerguard.common.db.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "o0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "applications",
    "application_events",
    "verifications",
    "checks",
    "risk_policies",
    "list_entries",
    "collections_policies",
    "collections_acceptances",
)


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("company_name", sa.Text(), nullable=False),
        sa.Column("company_domain", sa.Text(), nullable=True),
        sa.Column("company_country", sa.Text(), nullable=False),
        sa.Column("company_address", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("registration_number", sa.Text(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=False),
        sa.Column("contact_email", sa.Text(), nullable=False),
        sa.Column("email_domain", sa.Text(), nullable=False),
        sa.Column("contact_phone", sa.Text(), nullable=False),
        sa.Column("vendor_tenant_id", sa.UUID(), nullable=True),
        sa.Column("instrument_type", sa.Text(), nullable=True),
        sa.Column("card_bin", sa.Text(), nullable=True),
        sa.Column("card_country", sa.Text(), nullable=True),
        sa.Column("signup_ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("form_fill_seconds", sa.Float(), nullable=True),
        sa.Column("ip_country", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("hard_reject", sa.Boolean(), nullable=False),
        sa.Column("risk_tier", sa.Text(), nullable=True),
        sa.Column("prepayment_required", sa.Boolean(), nullable=True),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mfa_enforced", sa.Boolean(), nullable=True),
        sa.Column("phone_contact_confirmed", sa.Boolean(), nullable=True),
        sa.Column("collections_policy_version", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_requested_by", sa.Text(), nullable=True),
        sa.Column("override_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("partner_id", "customer_id", name=op.f("uq_applications_partner_id")),
    )
    op.create_index(
        op.f("ix_applications_partner_id"), "applications", ["partner_id"], unique=False
    )
    op.create_index(
        "ix_applications_partner_status",
        "applications",
        ["partner_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_applications_velocity_bin",
        "applications",
        ["partner_id", "card_bin", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_applications_velocity_device",
        "applications",
        ["partner_id", "device_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_applications_velocity_domain",
        "applications",
        ["partner_id", "email_domain", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_applications_velocity_ip",
        "applications",
        ["partner_id", "signup_ip", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_applications_velocity_phone",
        "applications",
        ["partner_id", "contact_phone", "created_at"],
        unique=False,
    )
    op.create_table(
        "collections_policies",
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("suspension_day", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.Text(), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections_policies")),
        sa.UniqueConstraint(
            "partner_id", "version", name=op.f("uq_collections_policies_partner_id")
        ),
    )
    op.create_index(
        op.f("ix_collections_policies_partner_id"),
        "collections_policies",
        ["partner_id"],
        unique=False,
    )
    op.create_table(
        "list_entries",
        sa.Column("list", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("network", postgresql.CIDR(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_entries")),
        sa.UniqueConstraint(
            "partner_id", "list", "kind", "value", name=op.f("uq_list_entries_partner_id")
        ),
    )
    op.create_index(
        "ix_list_entries_lookup", "list_entries", ["partner_id", "kind", "value"], unique=False
    )
    op.create_index(
        op.f("ix_list_entries_partner_id"), "list_entries", ["partner_id"], unique=False
    )
    op.create_table(
        "risk_policies",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_policies")),
        sa.UniqueConstraint("partner_id", "version", name=op.f("uq_risk_policies_partner_id")),
    )
    op.create_index(
        op.f("ix_risk_policies_partner_id"), "risk_policies", ["partner_id"], unique=False
    )
    op.create_table(
        "application_events",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_events_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_events")),
    )
    op.create_index(
        op.f("ix_application_events_application_id"),
        "application_events",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_application_events_partner_id"), "application_events", ["partner_id"], unique=False
    )
    op.create_table(
        "checks",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_checks_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checks")),
    )
    op.create_index(op.f("ix_checks_application_id"), "checks", ["application_id"], unique=False)
    op.create_index(op.f("ix_checks_partner_id"), "checks", ["partner_id"], unique=False)
    op.create_table(
        "collections_acceptances",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("accepted_by", sa.Text(), nullable=False),
        sa.Column("ip_address", postgresql.INET(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_collections_acceptances_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["collections_policies.id"],
            name=op.f("fk_collections_acceptances_policy_id_collections_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections_acceptances")),
    )
    op.create_index(
        op.f("ix_collections_acceptances_application_id"),
        "collections_acceptances",
        ["application_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_collections_acceptances_partner_id"),
        "collections_acceptances",
        ["partner_id"],
        unique=False,
    )
    op.create_table(
        "verifications",
        sa.Column("application_id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_verifications_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index(
        op.f("ix_verifications_application_id"), "verifications", ["application_id"], unique=False
    )
    op.create_index(
        op.f("ix_verifications_partner_id"), "verifications", ["partner_id"], unique=False
    )

    op.create_index(
        "ix_list_entries_network",
        "list_entries",
        ["network"],
        postgresql_using="gist",
        postgresql_ops={"network": "inet_ops"},
        postgresql_where="kind = 'ip'",
    )
    op.create_check_constraint(
        "status",
        "applications",
        "status IN ('submitted', 'pending_verification', 'in_review', 'approved', 'rejected')",
    )
    op.create_check_constraint("list", "list_entries", "list IN ('allow', 'block')")
    op.create_check_constraint("channel", "verifications", "channel IN ('sms', 'email')")
    for table in _TABLES:
        for statement in enable_tenant_rls(table):
            op.execute(statement)


def downgrade() -> None:
    for table in _TABLES:
        for statement in disable_tenant_rls(table):
            op.execute(statement)
    op.drop_index(op.f("ix_verifications_partner_id"), table_name="verifications")
    op.drop_index(op.f("ix_verifications_application_id"), table_name="verifications")
    op.drop_table("verifications")
    op.drop_index(
        op.f("ix_collections_acceptances_partner_id"), table_name="collections_acceptances"
    )
    op.drop_index(
        op.f("ix_collections_acceptances_application_id"), table_name="collections_acceptances"
    )
    op.drop_table("collections_acceptances")
    op.drop_index(op.f("ix_checks_partner_id"), table_name="checks")
    op.drop_index(op.f("ix_checks_application_id"), table_name="checks")
    op.drop_table("checks")
    op.drop_index(op.f("ix_application_events_partner_id"), table_name="application_events")
    op.drop_index(op.f("ix_application_events_application_id"), table_name="application_events")
    op.drop_table("application_events")
    op.drop_index(op.f("ix_risk_policies_partner_id"), table_name="risk_policies")
    op.drop_table("risk_policies")
    op.drop_index("ix_list_entries_network", table_name="list_entries")
    op.drop_index(op.f("ix_list_entries_partner_id"), table_name="list_entries")
    op.drop_index("ix_list_entries_lookup", table_name="list_entries")
    op.drop_table("list_entries")
    op.drop_index(op.f("ix_collections_policies_partner_id"), table_name="collections_policies")
    op.drop_table("collections_policies")
    op.drop_index("ix_applications_velocity_phone", table_name="applications")
    op.drop_index("ix_applications_velocity_ip", table_name="applications")
    op.drop_index("ix_applications_velocity_domain", table_name="applications")
    op.drop_index("ix_applications_velocity_device", table_name="applications")
    op.drop_index("ix_applications_velocity_bin", table_name="applications")
    op.drop_index("ix_applications_partner_status", table_name="applications")
    op.drop_index(op.f("ix_applications_partner_id"), table_name="applications")
    op.drop_table("applications")
