"""Payload models of every event type, one module per domain. Importing registers them."""

from partnerguard.common.events.types import (  # noqa: F401  (each import registers its types)
    billing,
    enforcement,
    gateway,
    monitoring,
    onboarding,
)
