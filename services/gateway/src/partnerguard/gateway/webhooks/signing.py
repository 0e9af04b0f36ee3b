"""Webhook secrets and signatures in the Standard Webhooks format, so stock verifiers work.

``webhook-signature`` carries one ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` per live
secret, space-separated: during a rotation's overlap both the new and the old secret sign.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook as StandardWebhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
_SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def seal_context(webhook_id: object) -> str:
    """Binds a sealed secret to its webhook: one cannot be moved onto another."""
    return f"webhook-secret:{webhook_id}"


def signature_headers(
    event_id: str, body: str, live_secrets: Sequence[str], at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``, signed with every live secret (newest first)."""
    signatures = [StandardWebhook(secret).sign(event_id, at, body) for secret in live_secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
