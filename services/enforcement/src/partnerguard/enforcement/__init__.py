"""PartnerGuard enforcement service.

Holds, policy-driven suspension and reinstatement, cases and the compromise credit clock.
"""
