"""Unbilled usage: monitoring's daily spend per customer."""
