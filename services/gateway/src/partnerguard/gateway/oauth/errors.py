"""OAuth 2.0 error responses (RFC 6749 §5.2, RFC 7009 §2.2.1).

The token and revocation endpoints answer errors in the form OAuth clients parse
(``{"error": ..., "error_description": ...}``), not problem+json: standard client libraries
depend on it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class InvalidClient(OAuthError):
    """Client authentication failed: 401 with a challenge for the scheme it may use."""

    def __init__(self, description: str = "client authentication failed") -> None:
        super().__init__("invalid_client", description, 401)


def install_oauth_error_handler(app: FastAPI) -> None:
    async def oauth_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OAuthError)
        headers = dict(NO_STORE)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="partnerguard", charset="UTF-8"'
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status,
            headers=headers,
        )

    app.add_exception_handler(OAuthError, oauth_error)
