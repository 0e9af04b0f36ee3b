"""Invoices: issue, credit notes, void, write-off and disputes."""
