"""Payload models of every event type, one module per domain. Importing registers them."""
