"""The running platform as partners see it: the gateway's URL, partners with OAuth clients, and
tokens of the scopes a test asks for.

Partners are made the way an operator makes them: the operator's first-run ``platform_admin``
client creates the partner through the gateway, and ``partnerguard clients create`` gives it a
``global_admin`` client (a partner's first client can only come from the operator's CLI, which
works straight on the gateway's database). Tokens of narrower scopes come from that client with
the OAuth ``scope`` parameter.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.e2e.outside import Outside
from tests.support.launcher import Launch, Ports

# The gateway's first run keeps the operator's and a demo partner's credentials here.
FIRST_RUN_CREDENTIALS = Path("gateway") / "first-run-credentials.json"
REPOSITORY = Path(__file__).parents[2]
# A token is used until this close to its expiry, then a fresh one is fetched.
TOKEN_MARGIN_SECONDS = 60.0
CLI_WITHIN = 60.0
HTTP_TIMEOUT = 15.0


@dataclass(frozen=True)
class PartnerClient:
    """A partner and its ``global_admin`` OAuth client."""

    name: str
    partner_id: uuid.UUID
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()

    def fresh(self) -> bool:
        return self.expires_at - TOKEN_MARGIN_SECONDS > time.monotonic()


class _Bearer(httpx.Auth):
    """Sends a token of the partner's client with the given scopes, fetched (and renewed) on
    demand, so a client can be made without awaiting anything."""

    def __init__(self, platform: Platform, partner: str, scopes: frozenset[str] | None) -> None:
        self._platform = platform
        self._partner = partner
        self._scopes = scopes

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._platform.token(self._partner, self._scopes)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


@dataclass
class Platform:
    """``partnerguard run`` on a fresh data folder, with the outside world faked around it."""

    run: Launch
    ports: Ports
    data_dir: Path
    outside: Outside
    _partners: dict[str, PartnerClient] = field(default_factory=dict)
    _tokens: dict[tuple[str, frozenset[str] | None], _Token] = field(default_factory=dict)
    _operator: _Token | None = None
    # One batch of partners is made at a time, so none is made twice.
    _creating: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def gateway_url(self) -> str:
        return self.ports.url("gateway")

    def log_tail(self, chars: int = 20_000) -> str:
        """The end of what the launcher and the services printed."""
        return self.run.output(chars)

    # -- partners and tokens ---------------------------------------------------------------

    async def partner(self, name: str) -> PartnerClient:
        """The partner called ``name`` in this session, created on first use."""
        if name not in self._partners:
            await self.prepare(name)
        return self._partners[name]

    async def prepare(self, *names: str) -> None:
        """Create the partners among ``names`` that do not exist yet, all in one go."""
        async with self._creating:
            missing = [name for name in dict.fromkeys(names) if name not in self._partners]
            if not missing:
                return
            ids = [await self._create_partner(name) for name in missing]
            clients = await self._create_clients(list(zip(ids, missing, strict=True)))
            for name, partner_id, client in zip(missing, ids, clients, strict=True):
                self._partners[name] = PartnerClient(
                    name, partner_id, client["client_id"], client["client_secret"]
                )

    async def token(self, partner: str, scopes: Iterable[str] | None = None) -> str:
        """An access token of the partner's client: every scope of its role when ``scopes`` is
        None, else exactly ``scopes`` (which the role must allow)."""
        wanted = frozenset(scopes) if scopes is not None else None
        cached = self._tokens.get((partner, wanted))
        if cached is not None and cached.fresh():
            return cached.value
        credentials = await self.partner(partner)
        token = await self._fetch_token(credentials.client_id, credentials.client_secret, wanted)
        self._tokens[(partner, wanted)] = token
        return token.value

    def client(self, partner: str, scopes: Iterable[str] | None = None) -> httpx.AsyncClient:
        """An HTTP client on the gateway acting as ``partner`` with a token of ``scopes`` (all of
        its role's when None). Close it (``async with``)."""
        wanted = frozenset(scopes) if scopes is not None else None
        return self._http(auth=_Bearer(self, partner, wanted))

    def anonymous(self) -> httpx.AsyncClient:
        """An HTTP client on the gateway without any token."""
        return self._http()

    # -- how they are made -----------------------------------------------------------------

    def _http(self, auth: httpx.Auth | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.gateway_url, auth=auth, timeout=HTTP_TIMEOUT, trust_env=False
        )

    def _first_run_operator(self) -> tuple[str, str]:
        kept = json.loads((self.data_dir / FIRST_RUN_CREDENTIALS).read_text())
        return kept["operator"]["client_id"], kept["operator"]["client_secret"]

    async def _operator_token(self) -> str:
        if self._operator is None or not self._operator.fresh():
            client_id, client_secret = self._first_run_operator()
            self._operator = await self._fetch_token(client_id, client_secret, None)
        return self._operator.value

    async def _fetch_token(
        self, client_id: str, client_secret: str, scopes: frozenset[str] | None
    ) -> _Token:
        form = {"grant_type": "client_credentials"}
        if scopes is not None:
            form["scope"] = " ".join(sorted(scopes))
        async with self._http() as http:
            response = await http.post("/oauth/token", data=form, auth=(client_id, client_secret))
        assert response.status_code == 200, f"token for {client_id}: {response.text}"
        body = response.json()
        return _Token(body["access_token"], time.monotonic() + float(body["expires_in"]))

    async def _create_partner(self, name: str) -> uuid.UUID:
        """The partner, created by the operator through the gateway."""
        operator = await self._operator_token()
        async with self._http() as http:
            response = await http.post(
                "/v1/partners",
                json={"name": f"e2e {name}"},
                headers={"Authorization": f"Bearer {operator}"},
            )
        assert response.status_code == 201, f"creating partner {name}: {response.text}"
        return uuid.UUID(response.json()["id"])

    async def _create_clients(self, partners: list[tuple[uuid.UUID, str]]) -> list[dict[str, str]]:
        """A ``global_admin`` client for each partner, from the operator's CLI on the platform's
        data folder (see :mod:`tests.e2e.operator_cli`)."""
        args = [item for partner_id, name in partners for item in (str(partner_id), f"e2e {name}")]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.e2e.operator_cli",
            str(self.data_dir),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=self.ports.env(),
            cwd=REPOSITORY,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), CLI_WITHIN)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"the operator's CLI took over {CLI_WITHIN}s") from None
        assert process.returncode == 0, f"the operator's CLI failed: {err.decode()}"
        created: list[dict[str, str]] = json.loads(out)
        return created
