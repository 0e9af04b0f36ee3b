"""Row-level security: the second wall behind every query's partner filter.

Each tenant transaction sets ``app.partner_id`` (transaction-local); the policy admits only rows
of that partner. With the setting absent, no row is visible and none can be written. The
application role does not own the tables (owners bypass RLS); the sweep role has BYPASSRLS.
"""

from __future__ import annotations

PARTNER_SETTING = "app.partner_id"

_CURRENT_PARTNER = f"NULLIF(current_setting('{PARTNER_SETTING}', true), '')::uuid"


def enable_tenant_rls(table: str, column: str = "partner_id") -> list[str]:
    """SQL that turns on tenant isolation for ``table``; run it from the table's migration."""
    predicate = f"{column} = {_CURRENT_PARTNER}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate})",
    ]


def disable_tenant_rls(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]
