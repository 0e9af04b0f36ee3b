"""Sealing of secrets the gateway must read back (signing keys, webhook secrets): AES-256-GCM.

The key comes from ``SECRETS_KEY``; a database dump alone reveals none of them. ``context``
binds a sealed value to what it belongs to, so one cannot be swapped for another's.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class UnsealError(Exception):
    """The sealed value was made with another key or context, or was altered."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_base64(cls, value: str) -> Sealer:
        return cls(base64.b64decode(value))

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def unseal(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag as exc:
            raise UnsealError(f"cannot unseal the secret of {context}") from exc


def generate_key() -> str:
    """A new secrets key, base64-encoded, for ``SECRETS_KEY``."""
    return base64.b64encode(os.urandom(32)).decode()
