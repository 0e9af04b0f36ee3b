"""Where webhooks may send: public addresses only, https only, checked when a URL is registered
and again on every connection (a name can be re-pointed at an internal address after it was
checked: DNS rebinding).

The address rules are pure (:func:`refusal`); :func:`resolve` is the only I/O.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx

IPAddress = IPv4Address | IPv6Address

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT_SECONDS = 5.0

# Instance-metadata services hand out cloud credentials to whatever can reach them. All are
# non-public anyway; naming them gives a clearer refusal.
_METADATA = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS VPC DNS
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
# RFC 6052 well-known NAT64 prefix: a gateway there forwards to the embedded IPv4 address.
_NAT64 = IPv6Network("64:ff9b::/96")
# RFC 6598 shared address space (carrier-grade NAT): not public, whatever Python calls it.
_SHARED = IPv4Network("100.64.0.0/10")


class DestinationRefused(Exception):
    """A webhook URL that may not be called; the message says why, for the partner to read."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int


def parse_url(url: str) -> Destination:
    """The parts of an absolute http(s) URL that decide where it connects; ``ValueError`` if
    it is not one (no credentials or fragment either: the URL is shown in lists and events)."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parsed.scheme not in ("https", "http"):
        raise ValueError("the URL must start with https://")
    if not parsed.host:
        raise ValueError("the URL has no host")
    if parsed.userinfo:
        raise ValueError("the URL may not carry credentials")
    if parsed.fragment:
        raise ValueError("the URL may not have a fragment")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return Destination(parsed.scheme, parsed.raw_host.decode("ascii"), port)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress) -> str | None:
    """Why webhooks may not connect to ``address`` (e.g. ``"a loopback address"``), or None."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal(embedded)
            if reason is not None or address.ipv4_mapped is not None or address in _NAT64:
                # Mapped and NAT64 addresses reach the IPv4 address itself: judge that.
                return reason
    if address in _METADATA:
        return "a cloud metadata address"
    checks = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        (
            "a shared (carrier-grade NAT) address",
            isinstance(address, IPv4Address) and address in _SHARED,
        ),
    )
    for reason, applies in checks:
        if applies:
            return reason
    if not address.is_global:
        return "a non-public address"
    return None


def vet_addresses(host: str, addresses: list[IPAddress]) -> list[IPAddress]:
    """``addresses`` if every one is public; one bad address refuses the name, since a
    resolver may hand out any of them on the next lookup."""
    if not addresses:
        raise DestinationRefused(f"{host} does not resolve to any address")
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = host if host == str(address) else f"{host} resolves to {address}, which is"
            raise DestinationRefused(f"{shown} {reason}; webhooks may not reach it")
    return addresses


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` stands for (itself, if it is an IP literal)."""
    try:
        return [ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except (OSError, TimeoutError) as exc:
        raise DestinationRefused(f"{host} does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def vet_url(url: str, *, allow_http: bool, allow_private: bool) -> None:
    """Refuse (``DestinationRefused``) a URL webhooks may not call under these settings."""
    try:
        destination = parse_url(url)
    except ValueError as exc:
        raise DestinationRefused(str(exc)) from exc
    if destination.scheme == "http" and not allow_http:
        raise DestinationRefused("the URL must use https://")
    if not allow_private:
        vet_addresses(destination.host, await resolve(destination.host, destination.port))
