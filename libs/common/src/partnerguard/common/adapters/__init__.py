"""What every outbound adapter shares: one error type, retrying JSON-over-HTTP, SMTP e-mail.

Services keep their providers' protocols (an SMS gateway, a credit bureau, the vendor's partner
API) in their own ``adapters`` package and build them on these pieces.
"""
