"""PartnerGuard billing service.

Prepayment, safe payment instruments, invoices, aging receivables and standardized dunning.
"""
