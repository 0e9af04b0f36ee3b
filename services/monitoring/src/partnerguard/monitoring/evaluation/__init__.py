"""Evaluation: what happens after a customer's daily spend changed."""
