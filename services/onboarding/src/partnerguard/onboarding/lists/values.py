"""What a list entry's value may be, per kind, and its one canonical form. Pure: no I/O.

The canonical form is what is stored, what the unique (partner, list, kind, value) constraint
compares and what ``find_hits`` looks candidates up by, so two spellings of one thing
(``Example.COM.`` and ``example.com``) are one entry and match the same applications.
"""

from __future__ import annotations

import re
import uuid
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from email_validator import EmailNotValidError, validate_email

from partnerguard.onboarding.scoring.facts import ListKind

MAX_DEVICE_LENGTH = 200
# A domain entry needs at least "name.tld": one label alone would list a whole top-level domain.
MIN_DOMAIN_LABELS = 2

# Patterns are applied with ``fullmatch``: ``$`` alone would let a trailing newline through.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A top-level domain has a letter in it (so an IPv4 address is never a domain): plain letters
# or an internationalised one in its xn-- form.
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
# What people type between digits of a phone number; dropped, so "+49 30 901820" is E.164.
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_BIN = re.compile(r"^[0-9]{6,8}$")
_DIGITS = re.compile(r"^[0-9]+$")
BIN_LENGTHS = range(6, 9)

Network = IPv4Network | IPv6Network


def normalise_value(kind: ListKind, raw: str) -> str:
    """The canonical form of ``raw`` as an entry of ``kind``; ``ValueError`` (a message fit for
    the caller) when it is not one."""
    match kind:
        case ListKind.EMAIL:
            return normalise_email(raw)
        case ListKind.DOMAIN:
            return normalise_domain(raw)
        case ListKind.IP:
            return normalise_ip(raw)
        case ListKind.DEVICE:
            return normalise_device(raw)
        case ListKind.BIN:
            return normalise_bin(raw)
        case ListKind.PHONE:
            return normalise_phone(raw)
        case ListKind.TENANT:
            return normalise_tenant(raw)


def normalise_email(raw: str) -> str:
    """A syntactically valid address, lower-cased (as applications store their contact's).

    Validated the way the applications API validates it (``email-validator``, no DNS lookup),
    so an entry and an application's address have the same canonical form.
    """
    try:
        parsed = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from exc
    return parsed.normalized.lower()


def ascii_domain(raw: str) -> str | None:
    """``raw`` as a lower-case ASCII domain name (IDNA ``xn--`` labels, no trailing dot), or
    None when it is not a DNS name of at least two labels."""
    name = raw.strip().rstrip(".")  # a trailing dot names the DNS root: the same domain
    if not name or len(name) > 253:
        return None
    try:
        name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(labels) < MIN_DOMAIN_LABELS or not _TLD.fullmatch(labels[-1]):
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return name


def normalise_domain(raw: str) -> str:
    """A DNS name of at least two labels, lower-case, internationalised names in ``xn--`` form.

    An entry lists the domain and every domain under it (``example.com`` also matches
    ``mail.example.com``).
    """
    name = ascii_domain(raw)
    if name is None:
        raise ValueError(
            "not a domain name: expected labels of letters, digits and hyphens separated by "
            "dots, with a top-level domain, such as example.com"
        )
    return name


def normalise_ip(raw: str) -> str:
    """A single address (``203.0.113.7``) or a CIDR range (``203.0.113.0/24``).

    A range with host bits set (``203.0.113.7/24``) is refused rather than silently widened:
    it is most often a typo, and widening it would list 255 other addresses without saying so.
    A full-length prefix (``/32``, ``/128``) is the single address, and an IPv4-mapped IPv6
    address (``::ffff:203.0.113.7``) is the IPv4 address, so each has one spelling.
    """
    text = raw.strip()
    if "%" in text:  # zone ids name a local interface: meaningless across the internet
        raise ValueError("an IP address with a zone id (%...) cannot be listed")
    try:
        network = ip_network(text, strict=False)
    except ValueError as exc:
        raise ValueError(
            "not an IP address or CIDR range: expected e.g. 203.0.113.7, 203.0.113.0/24 "
            "or 2001:db8::/32"
        ) from exc
    if "/" in text and ip_address(text.split("/", 1)[0]) != network.network_address:
        raise ValueError(
            f"{text} has host bits set: the range it falls in is {network}; "
            "give that range, or the single address without a prefix"
        )
    if network.prefixlen == 0:
        raise ValueError("a /0 range would match every address of its family")
    return _canonical_network(network)


def network_of(value: str) -> Network:
    """The range a canonical ``ip`` entry value covers (a single address is a /32 or /128)."""
    return ip_network(value)


def _canonical_network(network: Network) -> str:
    if network.prefixlen != network.max_prefixlen:
        return str(network)
    address = network.network_address
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def canonical_address(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """The address entries are matched against: an IPv4-mapped IPv6 address is its IPv4 one."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def normalise_device(raw: str) -> str:
    """An opaque device identifier of 1 to 200 characters, compared exactly (case kept);
    surrounding whitespace is dropped."""
    value = raw.strip()
    if not value:
        raise ValueError("a device id cannot be empty")
    if len(value) > MAX_DEVICE_LENGTH:
        raise ValueError(f"a device id has at most {MAX_DEVICE_LENGTH} characters")
    if not value.isprintable():
        raise ValueError("a device id cannot contain control characters")
    return value


def normalise_bin(raw: str) -> str:
    """A card BIN/IIN prefix of 6 to 8 digits; it matches every card number starting with it."""
    value = raw.strip()
    if not _BIN.fullmatch(value):
        raise ValueError("a BIN is 6 to 8 digits (the start of a card number, never all of it)")
    return value


def normalise_phone(raw: str) -> str:
    """An E.164 number (``+`` country code and number, 8 to 16 characters in all); spaces,
    hyphens, dots and parentheses between digits are dropped."""
    value = _PHONE_SEPARATORS.sub("", raw)
    if not _PHONE.fullmatch(value):
        raise ValueError("not an E.164 phone number: expected e.g. +4930901820")
    return value


def normalise_tenant(raw: str) -> str:
    """A vendor tenant id (a GUID) in lower-case canonical form, hyphenated, no braces."""
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError as exc:
        raise ValueError(
            "not a tenant id: expected a GUID such as 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
        ) from exc


def domain_and_parents(domain: str) -> list[str]:
    """``a.b.example.com`` → itself, ``b.example.com``, ``example.com``: every domain an entry
    could name to cover it (never a bare top-level domain, which no entry can be)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - MIN_DOMAIN_LABELS + 1)]


def bin_prefixes(card_bin: str) -> list[str]:
    """Every BIN entry that would cover ``card_bin``: its prefixes of 6, 7 and 8 digits."""
    if not _DIGITS.fullmatch(card_bin):
        return []
    return [card_bin[:length] for length in BIN_LENGTHS if len(card_bin) >= length]
