"""Receivables: aging buckets, DSO and exposure against the credit limit."""
