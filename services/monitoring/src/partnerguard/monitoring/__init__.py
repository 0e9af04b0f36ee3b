"""PartnerGuard monitoring service.

Usage at volume, budgets, spend anomalies, activity-log rules and the vendor's notifications.
"""
