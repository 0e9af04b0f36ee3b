"""Approvals: policy actions that wait for a person (enforcement:approve)."""
