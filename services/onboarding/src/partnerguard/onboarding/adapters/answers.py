"""What a checking provider (identity service, credit bureau) answered, kept for audit."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from partnerguard.onboarding.scoring.facts import CheckResult

log = structlog.get_logger()

# What a provider may decide. "expired" belongs to our own verification codes, not to them.
PROVIDER_RESULTS = frozenset({CheckResult.PASSED, CheckResult.FAILED, CheckResult.INCONCLUSIVE})


class ProviderAnswer(BaseModel):
    """One provider's verdict on one request, with its whole answer for the audit trail."""

    model_config = ConfigDict(frozen=True)

    provider: str = Field(description="Which adapter answered: a provider name or local.")
    result: CheckResult
    reference: str | None = Field(default=None, description="The provider's id for the check.")
    raw: dict[str, Any] = Field(default_factory=dict, description="The provider's JSON answer.")


def answer_from(provider: str, raw: dict[str, Any], *, result_key: str) -> ProviderAnswer:
    """Read a provider's JSON answer: a verdict we do not know counts as inconclusive."""
    value = raw.get(result_key)
    result = CheckResult.INCONCLUSIVE
    if isinstance(value, str) and value in PROVIDER_RESULTS:
        result = CheckResult(value)
    else:
        log.warning(
            "adapter.unknown_result", provider=provider, key=result_key, value=repr(value)[:100]
        )
    reference = raw.get("id")
    return ProviderAnswer(
        provider=provider,
        result=result,
        reference=str(reference) if isinstance(reference, str | int) else None,
        raw=raw,
    )
