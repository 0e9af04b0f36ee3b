"""One TLS context for the process's outbound clients, verifying as httpx's default does."""

from __future__ import annotations

import ssl

from partnerguard.common.tls import client_tls


def test_every_client_shares_one_context_that_checks_certificates_and_hostnames() -> None:
    context = client_tls()

    assert client_tls() is context
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0
