"""Holds: why a customer or subscription must stay suspended, and the status that follows."""
