"""SSRF guard for user-submitted OpenAI-compatible endpoint URLs.

Anyone can submit an endpoint URL through the public web app, and the server then calls it. This
module makes sure such a call can only reach a globally routable address:

* :func:`check_url` parses the URL strictly (http/https only, no credentials, no query or
  fragment, no control characters), recognizes every spelling of an IPv4 literal that
  ``inet_aton`` accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``...), resolves host names
  to *all* their addresses and refuses the URL if *any* of them is forbidden
  (:func:`is_forbidden_address`). The result, a :class:`SafeTarget`, pins one validated address.
* :func:`pinned_transport` gives an httpx transport that connects only to that pinned address,
  whatever DNS answers later (no DNS rebinding), keeps the ``Host`` header and TLS name of the
  original host, and refuses any request to another host.

Refusals raise :class:`URLRefused`, whose ``reason`` is a sentence meant for the submitter.
Operators of self-hosted deployments can allow private addresses with
``QER_ALLOW_PRIVATE_ENDPOINTS=1`` (:func:`allow_private_from_env`); cloud metadata, unspecified,
multicast, broadcast and reserved addresses stay refused even then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpx
import idna

from arena.settings import current

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> IP address strings``: how :func:`check_url` resolves host names."""

MAX_URL_CHARS = 2048
"""Longest URL accepted, in characters."""
RESOLVE_TIMEOUT_S = 10.0
"""How long resolving one host name may take before the URL is refused."""
ALLOW_PRIVATE_ENV = "QER_ALLOW_PRIVATE_ENDPOINTS"
"""Environment variable with which an operator allows private endpoints (``1`` to allow)."""
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}
"""The schemes accepted, with their default ports."""

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_LOCAL_NAME_SUFFIXES = ("localhost", "localdomain", "local", "internal", "home.arpa")
_DNS_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_IPV4_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_MAX_NAME_CHARS = 253


class URLRefused(ValueError):
    """A submitted URL is not acceptable; ``reason`` says why, in one human sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SafeTarget:
    """A validated endpoint: where to send requests and the one address to connect to."""

    url: str
    """The normalized OpenAI root (``scheme://host[:port]/v1``), for ``ChatClient``."""
    scheme: str
    """``http`` or ``https``."""
    host: str
    """The host, lowercased and IDNA-encoded (IP literals in their canonical form)."""
    port: int
    """The TCP port (the scheme's default when the URL gave none)."""
    addresses: tuple[str, ...]
    """Every address the host resolved to; all of them passed the checks."""
    pinned: str
    """The address every connection goes to (one of ``addresses``)."""


# --------------------------------------------------------------------------------------------
# Address classification


@dataclass(frozen=True)
class _Rule:
    """One special-purpose range: what it is, and whether ``allow_private`` can lift it."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    category: str
    always: bool = False


def _rules(always: bool, *entries: tuple[str, str]) -> list[_Rule]:
    """Rules from ``(network, category)`` pairs."""
    return [_Rule(ipaddress.ip_network(net), category, always) for net, category in entries]


_METADATA_RULES = _rules(
    True,
    ("169.254.169.254/32", "link-local (cloud metadata)"),
    ("169.254.170.2/32", "link-local (AWS ECS container credentials)"),
    ("169.254.170.23/32", "link-local (AWS EKS pod identity credentials)"),
    ("100.100.100.200/32", "shared address space (Alibaba Cloud metadata)"),
    ("168.63.129.16/32", "the Azure platform address (WireServer, cloud metadata)"),
    ("192.0.0.192/32", "an IETF protocol address (Oracle Cloud metadata)"),
    ("fd00:ec2::254/128", "unique-local (AWS cloud metadata)"),
    ("fd00:ec2::23/128", "unique-local (AWS EKS pod identity credentials)"),
)
_IPV4_RULES = [
    *_rules(
        True,
        ("0.0.0.0/8", "unspecified ('this network', 0.0.0.0/8)"),
        ("255.255.255.255/32", "the limited broadcast address"),
        ("224.0.0.0/4", "multicast (224.0.0.0/4)"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4)"),
    ),
    *_rules(
        False,
        ("127.0.0.0/8", "loopback (127.0.0.0/8)"),
        ("10.0.0.0/8", "private (10.0.0.0/8)"),
        ("172.16.0.0/12", "private (172.16.0.0/12)"),
        ("192.168.0.0/16", "private (192.168.0.0/16)"),
        ("169.254.0.0/16", "link-local (169.254.0.0/16)"),
        ("100.64.0.0/10", "shared address space / carrier-grade NAT (100.64.0.0/10)"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments (192.0.0.0/24)"),
        ("192.0.2.0/24", "documentation (TEST-NET-1, 192.0.2.0/24)"),
        ("198.51.100.0/24", "documentation (TEST-NET-2, 198.51.100.0/24)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3, 203.0.113.0/24)"),
        ("198.18.0.0/15", "benchmarking (198.18.0.0/15)"),
        ("192.88.99.0/24", "6to4 relay anycast (deprecated, 192.88.99.0/24)"),
    ),
]
_IPV6_RULES = [
    *_rules(
        True,
        ("::/128", "unspecified (::)"),
        ("ff00::/8", "multicast (ff00::/8)"),
        ("100::/64", "discard-only (100::/64)"),
        (
            "64:ff9b:1::/48",
            "NAT64 local-use (64:ff9b:1::/48), whose embedded IPv4 address depends on "
            "the local prefix length and cannot be checked",
        ),
    ),
    *_rules(
        False,
        ("::1/128", "loopback (::1)"),
        ("fe80::/10", "link-local (fe80::/10)"),
        ("fec0::/10", "site-local (deprecated, fec0::/10)"),
        ("fc00::/7", "unique-local, i.e. private (fc00::/7)"),
        ("2001:db8::/32", "documentation (2001:db8::/32)"),
        ("3fff::/20", "documentation (3fff::/20)"),
        ("2001:2::/48", "benchmarking (2001:2::/48)"),
        ("2001::/32", "Teredo (2001::/32), which is not globally routable"),
        ("2001::/23", "reserved for IETF protocol assignments (2001::/23)"),
    ),
]
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # bits 64-95 of an ISATAP interface identifier


def _first_rule(ip: IPAddress, rules: Iterable[_Rule], allow_private: bool) -> str | None:
    """The category of the first rule matching ``ip`` (rules ``allow_private`` lifts skipped)."""
    for rule in rules:
        if ip.version == rule.network.version and ip in rule.network:
            if rule.always or not allow_private:
                return rule.category
            return None
    return None


def _ipv4_category(ip: ipaddress.IPv4Address, allow_private: bool) -> str | None:
    """Why ``ip`` is refused, as a category phrase (``loopback (127.0.0.0/8)``), or None."""
    category = _first_rule(ip, [*_METADATA_RULES, *_IPV4_RULES], allow_private)
    if category is None and not allow_private and not ip.is_global:
        category = "not globally routable"
    return category


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> Iterator[tuple[str, ipaddress.IPv4Address]]:
    """Every IPv4 address ``ip`` carries, each with the name of the form that carries it."""
    if ip.ipv4_mapped is not None:
        yield "IPv4-mapped, ::ffff:0:0/96", ip.ipv4_mapped
    elif ip in _IPV4_COMPATIBLE and int(ip) > 1:
        yield "IPv4-compatible, ::/96", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip in _NAT64_WELL_KNOWN:
        yield "NAT64, 64:ff9b::/96", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip.sixtofour is not None:
        yield "6to4, 2002::/16", ip.sixtofour
    elif ip.teredo is not None:
        server, client = ip.teredo
        yield "Teredo client, 2001::/32", client
        yield "Teredo server, 2001::/32", server
    if (int(ip) >> 32) & 0xFFFFFFFF in _ISATAP_IDS:
        yield "ISATAP interface identifier", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def _ipv6_reason(ip: ipaddress.IPv6Address, allow_private: bool) -> str | None:
    """Why ``ip`` is refused (a whole sentence), or None."""
    if ip.scope_id:
        return f"{ip} carries an IPv6 zone id (%{ip.scope_id}), which only names a local link"
    for form, v4 in _embedded_ipv4(ip):
        category = _ipv4_category(v4, allow_private)
        if category is not None:
            return f"{ip} embeds {v4} ({form}), and {v4} is {category}"
    if ip.ipv4_mapped is not None or ip in _NAT64_WELL_KNOWN:
        return None  # only another way to reach the IPv4 address, which passed
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return f"{ip} is IPv4-compatible (::/96), a deprecated form that is never routed"
    return _ipv6_range_reason(ip, allow_private)


def _ipv6_range_reason(ip: ipaddress.IPv6Address, allow_private: bool) -> str | None:
    """The special-range, reserved-space and ``is_global`` checks of a plain IPv6 address."""
    rules = [*_METADATA_RULES, *_IPV6_RULES]
    category = _first_rule(ip, rules, allow_private)
    if category is not None:
        return f"{ip} is {category}"
    if ip not in _GLOBAL_UNICAST and _first_rule(ip, rules, allow_private=False) is None:
        return f"{ip} is reserved (outside the global unicast range 2000::/3)"
    if not allow_private and not ip.is_global:
        return f"{ip} is not globally routable"
    return None


def _address_reason(ip: IPAddress, allow_private: bool) -> str | None:
    """Why connecting to ``ip`` is refused (a sentence), or None when it is allowed."""
    if isinstance(ip, ipaddress.IPv6Address):
        return _ipv6_reason(ip, allow_private)
    category = _ipv4_category(ip, allow_private)
    return None if category is None else f"{ip} is {category}"


def is_forbidden_address(ip: IPAddress) -> str | None:
    """Why an endpoint at ``ip`` is refused (e.g. ``10.0.0.1 is private (10.0.0.0/8)``).

    None when ``ip`` is globally routable. IPv6 forms that carry an IPv4 address (IPv4-mapped,
    IPv4-compatible, NAT64, 6to4, Teredo, ISATAP) are refused when that IPv4 address is.
    """
    return _address_reason(ip, allow_private=False)


# --------------------------------------------------------------------------------------------
# URL parsing


def _check_text(url: str) -> None:
    """Refuse empty, over-long and non-string URLs and any control/whitespace character."""
    if not isinstance(url, str) or not url:
        raise URLRefused("the URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise URLRefused(f"the URL is too long ({len(url)} characters, at most {MAX_URL_CHARS})")
    for position, char in enumerate(url):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            name = unicodedata.name(char, f"U+{ord(char):04X}")
            raise URLRefused(
                f"the URL contains whitespace or a control character ({name}) "
                f"at position {position}"
            )
    if "\\" in url:
        raise URLRefused("the URL contains a backslash")


def _split(url: str) -> SplitResult:
    """``urlsplit`` with scheme, query and fragment checked."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise URLRefused(f"the URL cannot be parsed ({exc})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise URLRefused("the URL has no scheme (only http:// and https:// are accepted)")
    if scheme not in DEFAULT_PORTS:
        raise URLRefused(f"only http:// and https:// URLs are accepted, not {scheme}:")
    if "#" in url:
        raise URLRefused("the URL must not have a fragment (#...)")
    if "?" in url:
        raise URLRefused("the URL must not have a query string (?...)")
    return parts


def _split_netloc(netloc: str) -> tuple[str, str | None, bool]:
    """``(host, port text or None, bracketed)`` of a netloc without userinfo."""
    if "@" in netloc:
        raise URLRefused("the URL must not contain credentials (user:password@)")
    if netloc.startswith("["):
        host, bracket, rest = netloc[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise URLRefused("the URL has a malformed [IPv6] host")
        return host, rest[1:] if rest else None, True
    host, colon, port = netloc.partition(":")
    if ":" in port:
        raise URLRefused("the URL has a host with several ':' (IPv6 needs [brackets])")
    return host, port if colon else None, False


def _parse_port(text: str | None, scheme: str) -> int:
    """The port number (the scheme's default when absent), 1-65535."""
    if text is None:
        return DEFAULT_PORTS[scheme]
    if not text:
        raise URLRefused("the URL has an empty port after ':'")
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise URLRefused(f"the URL has an invalid port {text!r} (must be 1-65535)")
    return int(text)


def _ipv4_number(part: str) -> int | None:
    """One ``inet_aton`` part: decimal, ``0``-prefixed octal or ``0x`` hex; None if invalid."""
    if part[:2].lower() == "0x":
        return int(part[2:], 16) if len(part) > 2 else None
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if set(part) <= set("01234567") else None
    return int(part)


def _parse_ipv4_loose(labels: list[str]) -> ipaddress.IPv4Address:
    """The IPv4 address a numeric host denotes, parsed as ``inet_aton`` does.

    1 to 4 parts; every part but the last is one byte, the last fills the remaining bytes:
    ``127.1`` is ``127.0.0.1``, ``2130706433`` and ``0x7f000001`` too.
    """
    shown = ".".join(labels)
    invalid = URLRefused(f"the host {shown!r} looks like an IPv4 address but is not a valid one")
    if len(labels) > 4 or not all(_IPV4_NUMBER.fullmatch(label) for label in labels):
        raise invalid
    numbers = [_ipv4_number(label) for label in labels]
    *leading, last = numbers
    if last is None or any(n is None or n > 255 for n in leading):
        raise invalid
    if last >= 256 ** (5 - len(numbers)):
        raise invalid
    value = last
    for index, number in enumerate(leading):
        value += (number or 0) << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ascii_host(host: str) -> str:
    """The host lowercased; non-ASCII names IDNA-encoded (UTS #46 mapping, IDNA 2008)."""
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise URLRefused(
            f"the host {host!r} is not a valid internationalized name ({exc})"
        ) from None


def _parse_ipv6_literal(text: str) -> ipaddress.IPv6Address:
    """A bracketed IPv6 host; zone ids (``fe80::1%25eth0``) are refused."""
    if "%" in text:
        raise URLRefused(f"the IPv6 host [{text}] carries a zone id, which only names a local link")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise URLRefused(f"the host [{text}] is not a valid IPv6 address") from None


def _parse_host(raw: str, bracketed: bool) -> tuple[str, IPAddress | None]:
    """``(host, ip)``: the canonical host and, for IP literals in any spelling, the address."""
    if bracketed:
        ip6 = _parse_ipv6_literal(raw)
        return str(ip6), ip6
    if not raw:
        raise URLRefused("the URL has no host")
    host = _ascii_host(raw)
    labels = host.removesuffix(".").split(".")
    if _IPV4_NUMBER.fullmatch(labels[-1]):  # ends in a number: an IPv4 address or nothing
        ip4 = _parse_ipv4_loose(labels)
        return str(ip4), ip4
    _check_dns_name(host, labels)
    return host, None


def _check_dns_name(host: str, labels: list[str]) -> None:
    """Refuse host names with characters or label lengths DNS does not allow."""
    if len(host.removesuffix(".")) > _MAX_NAME_CHARS:
        raise URLRefused(f"the host name is too long (at most {_MAX_NAME_CHARS} characters)")
    if not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise URLRefused(f"the host {host!r} is not a valid host name")


def _local_name_reason(host: str) -> str | None:
    """Why a special-use local name (``localhost``, ``*.internal``...) is refused, or None."""
    name = host.removesuffix(".")
    for suffix in _LOCAL_NAME_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            kind = "loopback" if suffix == "localhost" else "local-network"
            return f"{host} is a {kind} name (.{suffix}), never a public endpoint"
    return None


# --------------------------------------------------------------------------------------------
# Resolution


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address (IPv4 and IPv6) the system resolver gives for ``host``, deduplicated."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    """All addresses of ``host`` (at least one), parsed; URLRefused when none resolve."""
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            answers = await resolver(host, port)
    except TimeoutError:
        raise URLRefused(f"resolving {host} took longer than {RESOLVE_TIMEOUT_S:g} s") from None
    except OSError as exc:
        raise URLRefused(f"{host} could not be resolved ({exc})") from None
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(answer))
        except ValueError:
            raise URLRefused(f"{host} resolved to something that is not an address") from None
    if not addresses:
        raise URLRefused(f"{host} does not resolve to any address")
    return list(dict.fromkeys(addresses))


_DOTTED_QUAD = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b(?!/)")
"""An IPv4 address in a reason (not a range such as ``10.0.0.0/8``)."""


def _unnamed(reason: str, ip: IPAddress) -> str:
    """``reason`` without the address a name resolved to (nor an IPv4 address embedded in it):
    a refusal must not tell the submitter what this server's resolver sees for internal
    names."""
    text = "it" + reason.removeprefix(str(ip)) if reason.startswith(str(ip)) else reason
    return _DOTTED_QUAD.sub("an IPv4 address", text)


def _connect_address(ip: IPAddress) -> str:
    """The address to dial for ``ip`` (an IPv4-mapped IPv6 address as plain IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _root_url(scheme: str, host: str, port: int, path: str) -> str:
    """``scheme://host[:port]/path`` with the OpenAI root path (``/v1`` for an empty path)."""
    netloc = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{path.rstrip('/') or '/v1'}"


async def check_url(
    url: str, *, resolver: Resolver = system_resolver, allow_private: bool = False
) -> SafeTarget:
    """Validate a submitted endpoint URL and pin the address to connect to.

    Raises :class:`URLRefused` (with a ``reason`` for the submitter) when the URL is malformed,
    not http(s), carries credentials, or when its host (an IP literal in any spelling, or a
    name whose every address is checked) is not allowed. ``allow_private`` (operators of
    self-hosted deployments) lifts the private, loopback and link-local refusals, but never the
    cloud metadata, unspecified, multicast, broadcast or reserved ones.
    """
    _check_text(url)
    parts = _split(url)
    scheme = parts.scheme.lower()
    raw_host, port_text, bracketed = _split_netloc(parts.netloc)
    port = _parse_port(port_text, scheme)
    host, literal = _parse_host(raw_host, bracketed)
    if literal is not None:
        addresses = [literal]
    else:
        local = None if allow_private else _local_name_reason(host)
        if local is not None:
            raise URLRefused(local)
        addresses = await _resolve(host, port, resolver)
    for ip in addresses:
        reason = _address_reason(ip, allow_private)
        if reason is not None and literal is not None:
            raise URLRefused(reason)
        if reason is not None:
            raise URLRefused(f"{host} resolves to a forbidden address: {_unnamed(reason, ip)}")
    return SafeTarget(
        url=_root_url(scheme, host, port, parts.path),
        scheme=scheme,
        host=host,
        port=port,
        addresses=tuple(str(ip) for ip in addresses),
        pinned=_connect_address(addresses[0]),
    )


def allow_private_from_env() -> bool:
    """Whether the operator allows private endpoints (``QER_ALLOW_PRIVATE_ENDPOINTS=1``)."""
    return current().intake.allow_private


# --------------------------------------------------------------------------------------------
# Pinned transport


class PinnedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that sends requests for one validated host to its pinned address.

    The request URL's host is replaced by ``target.pinned`` (no DNS lookup ever happens); the
    ``Host`` header keeps the original name and, for https, TLS is sent and verified for that
    name (``sni_hostname``). Requests for any other host, port or scheme fail with
    :class:`httpx.ConnectError` before a connection is made.
    """

    def __init__(self, target: SafeTarget, **transport_kwargs: Any) -> None:
        for name in ("proxy", "uds"):
            if transport_kwargs.get(name) is not None:
                raise ValueError(f"a pinned transport cannot use {name}= (it would bypass the pin)")
        super().__init__(**transport_kwargs)
        self._target = target
        self._host_is_ip = _is_ip_text(target.host)

    @property
    def target(self) -> SafeTarget:
        """The validated target this transport is pinned to."""
        return self._target

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the pinned address (refused unless it is for the target)."""
        return await super().handle_async_request(self._pin(request))

    def _pin(self, request: httpx.Request) -> httpx.Request:
        """A copy of ``request`` aimed at the pinned address; ConnectError for other hosts."""
        url, target = request.url, self._target
        host = url.raw_host.decode("ascii").lower()
        port = url.port or DEFAULT_PORTS.get(url.scheme, 0)
        if (url.scheme, host, port) != (target.scheme, target.host, target.port):
            raise httpx.ConnectError(
                f"refused {url.scheme}://{host}:{port}: this connection is pinned to "
                f"{target.scheme}://{target.host}:{target.port} only",
                request=request,
            )
        extensions = dict(request.extensions)
        if target.scheme == "https" and not self._host_is_ip:
            extensions["sni_hostname"] = target.host.removesuffix(".")
        return httpx.Request(
            request.method,
            url.copy_with(host=target.pinned),
            headers=request.headers,
            stream=request.stream,
            extensions=extensions,
        )


def _is_ip_text(text: str) -> bool:
    """Whether ``text`` is an IP address (not a host name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def pinned_transport(target: SafeTarget, **transport_kwargs: Any) -> httpx.AsyncBaseTransport:
    """A transport for ``ChatClient(target.url, transport=...)`` pinned to ``target.pinned``.

    ``transport_kwargs`` go to :class:`httpx.AsyncHTTPTransport` (``verify``, ``retries``...);
    ``proxy`` and ``uds`` are refused since they would connect elsewhere.
    """
    return PinnedTransport(target, **transport_kwargs)
