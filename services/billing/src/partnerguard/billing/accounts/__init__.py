"""Billing accounts: opened from onboarding approvals or by the partner, gated by prepayment."""
