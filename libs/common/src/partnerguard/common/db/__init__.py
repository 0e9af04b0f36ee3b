"""Database access: engines, units of work, row-level security, repositories."""

from partnerguard.common.db.base import (
    NAMING_CONVENTION,
    CreatedAtMixin,
    TenantMixin,
    TimestampMixin,
)
from partnerguard.common.db.engine import Database
from partnerguard.common.db.repository import Repository

__all__ = [
    "NAMING_CONVENTION",
    "CreatedAtMixin",
    "Database",
    "Repository",
    "TenantMixin",
    "TimestampMixin",
]
