"""Budgets: a customer's monthly spending budget, its threshold and forecast alerts, and spend series."""
