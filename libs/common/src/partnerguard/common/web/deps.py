"""FastAPI dependencies, defined once: the caller (token, partner, scopes) and the session."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.auth import Caller
from partnerguard.common.errors import InsufficientScope, Unauthorized

if TYPE_CHECKING:
    from partnerguard.common.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="OAuth 2.0 access token")
# The only way JSON spells U+0000 (a raw NUL byte is not valid JSON).
NUL_ESCAPE = b"\\u0000"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> Runtime:
    # A coroutine, as every dependency here is: FastAPI runs a plain function on a worker
    # thread, a hop that cost more CPU than many a request's own work.
    return get_runtime(request)


RuntimeDep = Annotated["Runtime", Depends(_runtime)]


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
        raise InsufficientScope(missing)
    return caller


async def reject_nul_characters(request: Request) -> None:
    """422 for a NUL character (U+0000) in the path, the query or a JSON body: PostgreSQL text
    cannot hold one, so it is refused at the edge instead of failing in the database as a 500.

    Every route of every app has it (``create_app``); the body is the one FastAPI already read.
    A route marked :func:`checks_own_body` refuses NUL characters in its body itself.
    """
    found: list[tuple[str | int, ...]] = [
        ("path", name) for name, value in request.path_params.items() if _has_nul(value)
    ]
    found += [
        ("query", name)
        for name, value in request.query_params.multi_items()
        if "\x00" in name or "\x00" in value
    ]
    body = b"" if getattr(request.scope.get("endpoint"), _OWN_BODY, False) else await request.body()
    # A byte search first: a large usage batch is not parsed twice for nothing.
    if NUL_ESCAPE in body:
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # not JSON: FastAPI has answered it, or the route takes no body
        found += [("body", *where) for where in _nul_strings(document)]
    if found:
        raise RequestValidationError(
            [
                {
                    "loc": loc,
                    "msg": "NUL characters (U+0000) are not accepted",
                    "type": "string_nul",
                }
                for loc in found
            ]
        )


_OWN_BODY = "_partnerguard_checks_own_body"
E = TypeVar("E", bound=Callable[..., Any])


def checks_own_body(endpoint: E) -> E:
    """Mark a route that reads its raw body and refuses a NUL character in it itself: a usage
    batch refuses only the record holding one, not the whole batch as the edge check would."""
    setattr(endpoint, _OWN_BODY, True)
    return endpoint


def _has_nul(value: object) -> bool:
    return isinstance(value, str) and "\x00" in value


def _nul_strings(node: Any, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where in a JSON document a key or a string holds a NUL character."""
    if isinstance(node, dict):
        for key, value in node.items():
            if _has_nul(key):
                yield (*at, key)
            yield from _nul_strings(value, (*at, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _nul_strings(item, (*at, index))
    elif _has_nul(node):
        yield at


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
