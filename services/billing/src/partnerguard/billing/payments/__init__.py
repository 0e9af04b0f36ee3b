"""Payments: reported, posted, allocated oldest invoice first, reversed."""
