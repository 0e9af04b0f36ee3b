"""The default policy (version 0), after the vendor's guidance on nonpayment, fraud and misuse.

In force for every partner until it saves a version of its own.
"""

from __future__ import annotations

from partnerguard.common.events.types.enforcement import CaseKind, HoldReason
from partnerguard.common.events.types.monitoring import (
    AlertKind,
    AlertResolution,
    Severity,
    VendorNotificationKind,
)
from partnerguard.enforcement.policies.rules import (
    Conditions,
    HoldTargetChoice,
    Mode,
    OpenCaseAction,
    PlaceHoldAction,
    PolicyEventType,
    ReleaseHoldAction,
    Rule,
)

DEFAULT_VERSION = 0

DEFAULT_RULES: tuple[Rule, ...] = (
    # The vendor found an acceptable-use violation: suspend at once, don't wait for a person.
    Rule(
        name="acceptable-use-violation",
        event_type=PolicyEventType.NOTIFICATION_RECEIVED,
        conditions=Conditions(notification_kind=VendorNotificationKind.ACCEPTABLE_USE_VIOLATION),
        action=PlaceHoldAction(reason=HoldReason.MISUSE),
    ),
    Rule(
        name="vendor-enforcement",
        event_type=PolicyEventType.NOTIFICATION_RECEIVED,
        conditions=Conditions(notification_kind=VendorNotificationKind.VENDOR_ENFORCEMENT),
        action=PlaceHoldAction(reason=HoldReason.VENDOR_ENFORCEMENT),
    ),
    # A compromised account: stop the bleeding, and open the case that tracks the credit.
    Rule(
        name="account-compromise-hold",
        event_type=PolicyEventType.NOTIFICATION_RECEIVED,
        conditions=Conditions(notification_kind=VendorNotificationKind.ACCOUNT_COMPROMISE),
        action=PlaceHoldAction(reason=HoldReason.COMPROMISE),
    ),
    Rule(
        name="account-compromise-case",
        event_type=PolicyEventType.NOTIFICATION_RECEIVED,
        conditions=Conditions(notification_kind=VendorNotificationKind.ACCOUNT_COMPROMISE),
        action=OpenCaseAction(kind=CaseKind.ACCOUNT_COMPROMISE),
    ),
    Rule(
        name="delinquency",
        event_type=PolicyEventType.CUSTOMER_DELINQUENT,
        action=PlaceHoldAction(reason=HoldReason.NONPAYMENT),
    ),
    Rule(
        name="confirmed-crypto-mining",
        event_type=PolicyEventType.ALERT_RESOLVED,
        conditions=Conditions(
            alert_kind=AlertKind.CRYPTO_MINING, resolution=AlertResolution.CONFIRMED
        ),
        action=PlaceHoldAction(reason=HoldReason.MISUSE),
    ),
    # Not yet confirmed: a person looks before the mining subscriptions are suspended.
    Rule(
        name="critical-crypto-mining",
        event_type=PolicyEventType.ALERT_RAISED,
        conditions=Conditions(alert_kind=AlertKind.CRYPTO_MINING, min_severity=Severity.CRITICAL),
        action=PlaceHoldAction(reason=HoldReason.MISUSE, target=HoldTargetChoice.SUBSCRIPTIONS),
        mode=Mode.APPROVAL,
    ),
    # Brought current: lift the nonpayment hold, and only that one.
    Rule(
        name="payment-brought-current",
        event_type=PolicyEventType.CUSTOMER_IN_GOOD_STANDING,
        action=ReleaseHoldAction(reason=HoldReason.NONPAYMENT),
    ),
)
