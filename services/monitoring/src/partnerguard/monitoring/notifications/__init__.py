"""Vendor notifications: the vendor's notices about customers and their response clock."""
