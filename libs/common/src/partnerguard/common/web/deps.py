"""FastAPI dependencies, defined once: the caller (token, partner, scopes) and the session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.auth import Caller
from partnerguard.common.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from partnerguard.common.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="OAuth 2.0 access token")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated["Runtime", Depends(get_runtime)]


async def get_caller(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The verified caller; 401 without a valid token, 403 without every required scope."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:  # verify once per request, however many dependencies ask
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("a bearer access token is required", error="invalid_request")
        caller = await get_runtime(request).verifier.verify(credentials.credentials)
        request.state.caller = caller
    missing = [scope for scope in security_scopes.scopes if not caller.has_scope(scope)]
    if missing:
        raise Forbidden(f"the token lacks the scope {' '.join(missing)}")
    return caller


def caller_with(*scopes: str) -> object:
    """The caller, requiring ``scopes``: ``Annotated[Caller, caller_with("billing:read")]``."""
    return Security(get_caller, scopes=list(scopes))


CallerDep = Annotated[Caller, Security(get_caller)]


async def get_session(request: Request, caller: CallerDep) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, scoped to the caller's partner.

    It commits when the endpoint returns and before the response is sent (``scope="function"``),
    so a failed commit is an error response, never a success whose data was lost.
    """
    async with get_runtime(request).db.tenant_session(caller.partner_id) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
