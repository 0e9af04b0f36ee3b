"""PartnerGuard onboarding service.

Vets new customers before they can buy: identity, verification, risk scoring and review.
"""
