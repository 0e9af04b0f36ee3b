"""Alerts: what detectors, rules and the vendor flag, and how partners close them."""
