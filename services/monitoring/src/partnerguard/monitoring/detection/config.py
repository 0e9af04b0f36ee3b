"""A partner's detection settings: every detector, activity rule and notification deadline.

One document per partner (``GET/PUT /v1/monitoring/detectors``), validated here; a partner that
never saved one runs on these defaults. Each alert records the numbers that fired it, so a
partner tuning a threshold can see how far its alerts were from it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from partnerguard.common.events.types.monitoring import Severity, VendorNotificationKind

Amount = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=8)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class SpendAnomaly(Section):
    """Spend far above the customer's own robust baseline: robust z = 0.6745 (x - median) / MAD.

    Days compare with the same weekday of earlier weeks; hours with the same hour of day on the
    same kind of day (working day or weekend) over earlier days."""

    daily_z: float = Field(default=3.5, gt=0)
    hourly_z: float = Field(default=5.0, gt=0)
    daily_baseline_weeks: int = Field(default=8, ge=2, le=26)
    hourly_baseline_days: int = Field(default=28, ge=7, le=90)
    # Fewer past points than this and there is no baseline yet: the detector stays silent.
    min_points: int = Field(default=4, ge=3)
    # Rises smaller than these (in the customer's currency) never alert, however unusual.
    min_daily_increase: Amount = Decimal("50")
    min_hourly_increase: Amount = Decimal("10")
    # MAD is floored at this share of the median: perfectly flat history would make any
    # change infinitely unusual.
    mad_floor_ratio: float = Field(default=0.05, ge=0, le=1)
    severity: Severity = Severity.MEDIUM


class NewCustomerBurst(Section):
    """A new customer spending in its first days far above what its risk tier leads to expect."""

    first_days: int = Field(default=7, ge=1, le=90)
    # Expected spend per day by risk tier (onboarding's tier; "unknown" before approval).
    expected_daily_spend: dict[str, Amount] = Field(
        default_factory=lambda: {
            "low": Decimal("200"),
            "medium": Decimal("50"),
            "high": Decimal("10"),
            "unknown": Decimal("20"),
        }
    )
    # Fires when spend since the first usage exceeds factor x expected x days elapsed ...
    factor: float = Field(default=5.0, gt=1)
    # ... and this much at least.
    min_spend: Amount = Decimal("100")
    severity: Severity = Severity.HIGH


# Start of a size name: the string's start or anything but a letter or digit ("Standard_NC6").
_EDGE = r"(?:^|[^a-z0-9])"
DEFAULT_HEAVY_PATTERNS = (
    r"\bgpu\b",
    _EDGE + r"n[cdvg][0-9]",  # Azure GPU series: NC, ND, NV, NG
    _EDGE + r"h[bcx]?[0-9]+",  # Azure HPC series: H, HB, HC, HX
    _EDGE + r"[defm][a-z]?(?:32|48|64|72|96|104|128|192|416)[a-z]*",  # 32+ vCPU sizes
    _EDGE + r"(?:p[2-5]|g[4-6]|inf[12]|trn1)[a-z]*\.",  # AWS GPU and accelerator families
    _EDGE + r"(?:a2|a3|g2)-",  # GCP accelerator-optimized machines
)


class CryptoMining(Section):
    """Sudden GPU or high-core compute, with new regions or flat round-the-clock usage.

    Over the last ``window_hours`` with usage: heavy compute must be at least ``heavy_share``
    of spend and ``min_heavy_cost``, and earlier (``prior_days``) heavy compute at most
    ``prior_share_max`` of it; then new regions in the window or flat usage (coefficient of
    variation of hourly spend at most ``flat_cv_max`` over ``min_active_hours`` or more hours)
    make it an alert, both a critical one."""

    window_hours: int = Field(default=24, ge=6, le=72)
    heavy_share: float = Field(default=0.5, gt=0, le=1)
    min_heavy_cost: Amount = Decimal("20")
    prior_days: int = Field(default=14, ge=1, le=90)
    prior_share_max: float = Field(default=0.1, ge=0)
    flat_cv_max: float = Field(default=0.25, gt=0)
    min_active_hours: int = Field(default=18, ge=1)
    # A record is heavy compute when its resource type or meter matches one of these
    # (Python regular expressions, matched case-insensitively anywhere in the text).
    heavy_patterns: tuple[str, ...] = DEFAULT_HEAVY_PATTERNS
    severity: Severity = Severity.HIGH

    @field_validator("heavy_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return patterns


class FirstSeen(Section):
    """A resource type or region the customer never used before."""

    # A customer's first days set what is usual; nothing is "first seen" during them.
    learning_days: int = Field(default=3, ge=0, le=90)
    severity: Severity = Severity.LOW


class OperationRule(Section):
    """A rule that fires on any of its operations (compared case-insensitively)."""

    operations: tuple[str, ...]
    severity: Severity = Severity.HIGH


class RoleRule(Section):
    """A rule that fires when one of ``operations`` grants one of ``roles``."""

    operations: tuple[str, ...] = ("Add member to role", "Add eligible member to role")
    roles: tuple[str, ...]
    severity: Severity = Severity.HIGH


class NewCountry(Section):
    """A customer tenant acting from a country it never acted from before."""

    learning_days: int = Field(default=7, ge=0, le=90)
    severity: Severity = Severity.MEDIUM


class ImpossibleTravel(Section):
    """One actor in two countries further apart than ``max_speed_kmh`` allows in the time between."""

    max_speed_kmh: float = Field(default=900.0, gt=0)
    min_distance_km: float = Field(default=500.0, ge=0)
    severity: Severity = Severity.HIGH


class MassChange(Section):
    """Many resources created, or many deleted, by a customer tenant in a short window."""

    window_minutes: int = Field(default=10, ge=1, le=1440)
    threshold: int = Field(default=50, ge=2)
    create_operations: tuple[str, ...] = ("create", "write", "deploy")
    delete_operations: tuple[str, ...] = ("delete",)
    severity: Severity = Severity.HIGH


class ActivityRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mfa_disabled: OperationRule = OperationRule(
        operations=(
            "Disable Strong Authentication",
            "Disable per-user MFA",
            "Disable security defaults",
            "Delete conditional access policy",
        ),
        severity=Severity.HIGH,
    )
    privileged_role_granted: RoleRule = RoleRule(
        roles=(
            "Privileged Role Administrator",
            "Privileged Authentication Administrator",
            "Security Administrator",
            "Billing Administrator",
            "Exchange Administrator",
            "SharePoint Administrator",
            "User Administrator",
            "Application Administrator",
            "Cloud Application Administrator",
            "Owner",
            "User Access Administrator",
        ),
        severity=Severity.HIGH,
    )
    new_global_admin: RoleRule = RoleRule(
        roles=("Global Administrator", "Company Administrator"), severity=Severity.CRITICAL
    )
    new_country: NewCountry = NewCountry()
    impossible_travel: ImpossibleTravel = ImpossibleTravel()
    mass_change: MassChange = MassChange()
    credentials_created: OperationRule = OperationRule(
        operations=(
            "Add service principal credentials",
            "Update application - Certificates and secrets management",
            "Add application password",
            "Create access key",
        ),
        severity=Severity.HIGH,
    )


Hours = Annotated[float, Field(gt=0, le=24 * 90)]


class NotificationDeadlines(BaseModel):
    """Hours from receipt by which a vendor notice must be in review, actioned and responded to.

    Per kind; a kind not listed takes ``default``. The vendor's own ``respond_by`` wins when it
    is earlier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    class Clock(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        review_hours: Hours
        action_hours: Hours
        respond_hours: Hours

    default: Clock = Clock(review_hours=4, action_hours=24, respond_hours=72)
    by_kind: dict[VendorNotificationKind, Clock] = Field(
        default_factory=lambda: {
            VendorNotificationKind.ACCEPTABLE_USE_VIOLATION: NotificationDeadlines.Clock(
                review_hours=1, action_hours=4, respond_hours=24
            ),
            VendorNotificationKind.ACCOUNT_COMPROMISE: NotificationDeadlines.Clock(
                review_hours=1, action_hours=4, respond_hours=24
            ),
        }
    )

    def clock(self, kind: VendorNotificationKind) -> Clock:
        return self.by_kind.get(kind, self.default)


class DetectionConfig(BaseModel):
    """Everything a partner tunes about detection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spend_anomaly: SpendAnomaly = SpendAnomaly()
    new_customer_burst: NewCustomerBurst = NewCustomerBurst()
    crypto_mining: CryptoMining = CryptoMining()
    first_seen: FirstSeen = FirstSeen()
    activity: ActivityRules = ActivityRules()
    notifications: NotificationDeadlines = NotificationDeadlines()
