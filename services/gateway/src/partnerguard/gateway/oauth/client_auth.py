"""Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1):
``client_secret_basic`` or ``client_secret_post``, never both, never a parameter twice."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from fastapi import Request
from starlette.datastructures import FormData

from partnerguard.gateway.oauth.errors import InvalidClient, OAuthError

MAX_FORM_BYTES = 8 * 1024


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str


async def read_form(request: Request) -> FormData:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "the request body is too large")
    form = await request.form()
    for name in set(form.keys()):
        if len(form.getlist(name)) > 1:
            raise OAuthError("invalid_request", f"the parameter {name!r} is repeated")
        if any(_has_nul(value) for value in (name, form.get(name))):
            raise OAuthError("invalid_request", f"the parameter {name!r} holds a NUL character")
    return form


def _has_nul(value: object) -> bool:
    """A NUL character (U+0000), which no client id or secret holds and PostgreSQL text cannot."""
    return isinstance(value, str) and "\x00" in value


def form_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def client_credentials(request: Request, form: FormData) -> ClientCredentials:
    header = request.headers.get("authorization")
    posted_id, posted_secret = form_field(form, "client_id"), form_field(form, "client_secret")
    if header is not None:
        if posted_secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("client authentication must use HTTP Basic or the request body")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClient("the Basic credentials are malformed") from exc
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep:
            raise InvalidClient("the Basic credentials are malformed")
        credentials = ClientCredentials(unquote_plus(raw_id), unquote_plus(raw_secret))
        if _has_nul(credentials.client_id) or _has_nul(credentials.client_secret):
            raise InvalidClient("the Basic credentials are malformed")
        if posted_id is not None and posted_id != credentials.client_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
        return credentials
    if posted_id is None or posted_secret is None:
        raise InvalidClient("client authentication is required")
    return ClientCredentials(posted_id, posted_secret)
